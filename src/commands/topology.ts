import { expectWords } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'topology';

export const topology = defineCommand({
  name: 'topology',
  summary: 'The cluster as the coordinator describes it: chains, their members (head first), node addresses.',
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
    return node.topology();
  },
  render(reply) {
    if (reply.cluster === '') return 'standalone node (no cluster)';
    const lines = [`cluster ${reply.cluster}  manager ${reply.manager === '' ? '(none)' : reply.manager}`];
    for (const chain of reply.chains) {
      const joining = chain.joining === '' ? '' : `  joining ${chain.joining}`;
      lines.push(`chain ${chain.chainId}  epoch ${chain.epoch}  ${chain.members.join(' -> ')}${joining}`);
    }
    for (const n of reply.nodes) lines.push(`node ${n.nodeId}  native ${n.native}  admin ${n.admin || '-'}`);
    return lines.join('\n');
  },
});
