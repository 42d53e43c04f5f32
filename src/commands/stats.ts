import { expectWords } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'stats';

export const stats = defineCommand({
  name: 'stats',
  summary: 'Server statistics: uptime, connections, keys, bytes, per-command calls and latency.',
  usage,
  mutates: false,
  seed: true,
  parse(words) {
    expectWords(words, 0, 0, usage);
    return {};
  },
  execute({ store, clock, node }) {
    const connections = node.connections();
    return {
      uptimeMs: BigInt(Math.max(0, clock.nowMs() - node.startedAtMs)),
      connections: connections.open,
      connectionsTotal: BigInt(connections.total),
      keys: BigInt(store.size()),
      bytes: BigInt(store.bytes()),
      commands: node.commandStats(),
      nodeId: node.nodeId,
      durability: node.durability,
      version: node.version,
      protocolErrors: BigInt(node.protocolErrors()),
    };
  },
  render(reply) {
    const lines = [
      `node ${reply.nodeId}  version ${reply.version}  durability ${reply.durability}`,
      `uptime ${(Number(reply.uptimeMs) / 1000).toFixed(1)} s  connections ${reply.connections} open / ${reply.connectionsTotal} total`,
      `keys ${reply.keys}  bytes ${reply.bytes}  protocol errors ${reply.protocolErrors}`,
      'command       calls     errors   p50 µs   p99 µs  p99.9 µs   max µs',
    ];
    for (const c of reply.commands) {
      lines.push(
        `${c.name.padEnd(10)} ${String(c.calls).padStart(8)} ${String(c.errors).padStart(10)} ${String(c.p50Us).padStart(8)} ${String(c.p99Us).padStart(8)} ${String(c.p999Us).padStart(9)} ${String(c.maxUs).padStart(8)}`,
      );
    }
    return lines.join('\n');
  },
});
