// Streaming a snapshot to a joiner whose log does not continue this tail's (docs/design.md §3.8):
// once everything issued so far is durable, one consistent reader (an LMDB read transaction)
// hands out the records in chunks, `snapshot-begin`, `snapshot-records` × n, `snapshot-end`,
// yielding between chunks and waiting for the connection to drain, so the tail never holds the
// table in memory and never blocks its event loop. A newer stream to the same joiner, a new
// epoch, or a stop cancels a stream.

import {
  peerBatchBytesTarget,
  snapshotBacklogBytesMax,
  snapshotChunkRecords,
  snapshotStreamMsMax,
} from '../../core/limits.js';
import type { SnapshotReader } from '../../storage/log-store.js';
import type { SnapshotRecord } from '../chain-wire.js';
import type { ReplicaShell } from './shell.js';

/** Deliberate faults for the simulator's broken variants (never set in a node). */
export interface SnapshotSenderFaults {
  /** Leaves out the records part with this number, numbering the next as if it had been sent. */
  skipPart?: number;
}

export class SnapshotSender {
  private streamCounter = 0;
  /** faults.skipPart: a chunk was left out already (once is enough to corrupt a joiner). */
  private skippedOnce = false;
  /** Streams in progress, by joiner: a newer one cancels the older. */
  private readonly sending = new Map<string, number>();

  constructor(
    private readonly shell: ReplicaShell,
    private readonly chunkRecords: number = snapshotChunkRecords,
    private readonly faults: SnapshotSenderFaults = {},
  ) {}

  send(to: string, epoch: number): void {
    if (this.shell.peers() === undefined) return;
    // Stream numbers grow across restarts too (they start from the clock), so a joiner can tell a
    // stale or repeated stream from a new one (snapshot-receiver.ts).
    const stream = Math.max(this.streamCounter + 1, Math.floor(this.shell.env.clock.nowMs()));
    this.streamCounter = stream;
    this.sending.set(to, stream);
    const cancelled = (): boolean =>
      this.shell.stopped() || this.sending.get(to) !== stream || this.shell.core().epoch !== epoch;
    this.shell.store.whenDurable((error) => {
      if (error !== undefined) this.shell.log.log('error', 'snapshot stream failed', { to, error: String(error) });
      if (error !== undefined || cancelled()) return this.finish(to, stream);
      let reader: SnapshotReader | undefined;
      try {
        reader = this.shell.store.snapshotReader();
        this.stream(to, epoch, stream, reader, cancelled);
      } catch (failure) {
        this.shell.log.log('error', 'snapshot stream failed', { to, error: String(failure) });
        this.close(reader);
        this.finish(to, stream);
      }
    });
  }

  private stream(to: string, epoch: number, stream: number, reader: SnapshotReader, cancelled: () => boolean): void {
    const peers = this.shell.peers()!;
    const self = this.shell.self;
    // The data's position: a snapshot holds committed (applied) entries only; the log after it follows.
    const position = reader.meta.applied ?? reader.meta.position;
    this.shell.log.log('info', 'streaming a snapshot', { to, sequence: position.lastSequence });
    peers.send(to, {
      kind: 'snapshot-begin',
      epoch,
      from: self,
      stream,
      sequence: position.lastSequence,
      lastEpoch: position.lastEpoch,
      revision: reader.revision,
    });
    const clock = this.shell.env.clock;
    const deadline = clock.nowMs() + snapshotStreamMsMax;
    let after: Uint8Array | undefined;
    let part = 0;
    const done = (): void => {
      this.close(reader);
      this.finish(to, stream);
    };
    const chunk = (): void => {
      try {
        const { records, more } = reader.records(after, this.chunkRecords, peerBatchBytesTarget);
        if (records.length > 0) {
          const out: SnapshotRecord[] = records.map((r) =>
            r.flags === 0
              ? [r.key, r.value, r.version, r.expiresAtMs]
              : [r.key, r.value, r.version, r.expiresAtMs, r.flags],
          );
          const skipped = this.faults.skipPart === part && !this.skippedOnce;
          if (skipped) this.skippedOnce = true;
          else peers.send(to, { kind: 'snapshot-records', epoch, from: self, stream, part: part++, records: out });
          after = records[records.length - 1]!.key;
        }
        if (!more) {
          const clients = reader.clients().map(([id, r]) => [id, { ...r }] as const);
          const frozen = [...reader.meta.frozen];
          peers.send(to, {
            kind: 'snapshot-end',
            epoch,
            from: self,
            stream,
            parts: part,
            clients: { clients },
            frozen,
          });
          return done();
        }
      } catch (error) {
        this.shell.log.log('error', 'snapshot stream failed', { to, error: String(error) });
        return done();
      }
      drain();
    };
    // Yield, and let the connection drain, before the next chunk.
    const drain = (): void => {
      this.shell.env.after(1, () => {
        if (cancelled()) return done();
        const now = clock.nowMs();
        if (now > deadline) {
          this.shell.log.log('warn', 'snapshot stream too slow: giving up (the joiner asks again)', { to });
          return done();
        }
        if (peers.backlogBytes(to) > snapshotBacklogBytesMax) return drain();
        chunk();
      });
    };
    chunk();
  }

  private close(reader: SnapshotReader | undefined): void {
    try {
      reader?.done();
    } catch (error) {
      this.shell.log.log('debug', 'snapshot reader already closed', { error: String(error) });
    }
  }

  private finish(to: string, stream: number): void {
    if (this.sending.get(to) === stream) this.sending.delete(to);
  }
}
