import { expectWords } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'nodestatus';

export const nodestatus = defineCommand({
  name: 'nodestatus',
  summary: "This node's replication state: chain, role, epoch, last/persisted/committed sequence.",
  usage,
  mutates: false,
  seed: false,
  hidden: true,
  access: 'connection',
  parse(words) {
    expectWords(words, 0, 0, usage);
    return {};
  },
  execute({ node }) {
    return node.nodeStatus();
  },
  render(reply) {
    return [
      `node ${reply.nodeId}  chain ${reply.chainId || '-'}  role ${reply.role}  epoch ${reply.epoch}${reply.manager ? '  (manager)' : ''}`,
      `last ${reply.lastSequence}  persisted ${reply.persistedSequence}  committed ${reply.committedSequence}`,
      `session ${reply.sessionConnected ? 'connected' : 'disconnected'}  serving reads ${reply.servingReads ? 'yes' : 'no'}`,
    ].join('\n');
  },
});
