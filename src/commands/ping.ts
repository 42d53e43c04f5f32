import { expectWords, showBytes } from './arguments.js';
import { defineCommand } from './types.js';

const usage = 'ping [message]';

export const ping = defineCommand({
  name: 'ping',
  summary: 'Check that the node answers; echoes the message.',
  usage,
  mutates: false,
  seed: false,
  access: 'connection',
  parse(words) {
    expectWords(words, 0, 1, usage);
    return { message: words[0] };
  },
  execute(_context, request) {
    return { message: request.message.length === 0 ? Buffer.from('PONG') : request.message };
  },
  render: (reply) => showBytes(reply.message),
});
