// Per-command counters and latency histograms for one node, reported by the `stats` command.

import { create } from '@bufbuild/protobuf';
import { LatencyHistogram } from '../core/histogram.js';
import { commandNames, type CommandName, type ReplyInit } from '../commands/index.js';
import { CommandStatsSchema } from '../protocol/native/gen/catena_pb.js';

interface CommandCounters {
  calls: number;
  errors: number;
  latency: LatencyHistogram;
}

export class NodeStats {
  private readonly perCommand = new Map<CommandName, CommandCounters>();
  connectionsOpen = 0;
  connectionsTotal = 0;
  /** Requests rejected before reaching a command (undecodable, unknown, too large). */
  protocolErrors = 0;

  constructor() {
    for (const name of commandNames)
      this.perCommand.set(name, { calls: 0, errors: 0, latency: new LatencyHistogram() });
  }

  record(name: CommandName, latencyUs: number, failed: boolean): void {
    const counters = this.perCommand.get(name)!;
    counters.calls += 1;
    if (failed) counters.errors += 1;
    counters.latency.record(latencyUs);
  }

  /** Every command's counters (metrics.ts reads them at each scrape). */
  *commandCounters(): Iterable<{ name: string; calls: number; errors: number; latencyUs: LatencyHistogram }> {
    for (const [name, c] of this.perCommand) yield { name, calls: c.calls, errors: c.errors, latencyUs: c.latency };
  }

  /**
   * Every command together since start: calls, errors and one merged latency histogram, all
   * cumulative. Built on demand (the dashboard's series diff two of these once a second), so
   * `record` stays what it was.
   */
  totals(): { calls: number; errors: number; latency: LatencyHistogram } {
    const latency = new LatencyHistogram();
    let calls = 0;
    let errors = 0;
    for (const c of this.perCommand.values()) {
      if (c.calls === 0) continue;
      calls += c.calls;
      errors += c.errors;
      latency.merge(c.latency);
    }
    return { calls, errors, latency };
  }

  commandStats(): ReplyInit<'stats'>['commands'] {
    const rows: NonNullable<ReplyInit<'stats'>['commands']> = [];
    for (const [name, c] of this.perCommand) {
      if (c.calls === 0) continue;
      rows.push(
        create(CommandStatsSchema, {
          name,
          calls: BigInt(c.calls),
          errors: BigInt(c.errors),
          p50Us: BigInt(c.latency.quantile(0.5)),
          p99Us: BigInt(c.latency.quantile(0.99)),
          p999Us: BigInt(c.latency.quantile(0.999)),
          maxUs: BigInt(c.latency.max),
        }),
      );
    }
    return rows;
  }
}
