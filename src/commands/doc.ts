// Renders the command reference (docs/commands.md) from the command table.

import { errorCodes } from '../core/errors.js';
import { commandNames, commandTable, slotCommands, type CommandName } from './index.js';

export function renderCommandsDoc(): string {
  const row = (name: CommandName) => {
    const def = commandTable[name];
    const kind = def.mutates ? 'write' : 'read';
    // A '|' inside a table cell must be escaped, even in code.
    return `| \`${def.usage.replaceAll('|', '\\|')}\` | ${kind} | ${def.summary} |`;
  };
  const rows = commandNames.filter((name) => !slotCommands.has(name)).map(row);
  const internal = commandNames.filter((name) => slotCommands.has(name)).map(row);
  const errors = Object.entries(errorCodes).map(([code, text]) => `| \`${code}\` | ${text} |`);
  return `<!-- Generated from src/commands/ by \`npm run docs\`; do not edit by hand. -->
# Commands

Every command is available in the shell (\`catena shell\`), as a one-shot CLI command
(\`catena <command> [args] [--json]\`), through the client library (\`client.<command>(...)\`),
and as a message of the native protocol (\`proto/catena.proto\`). Writes are answered only once
they are durable (\`--durability fsync\`, the default).

| usage | kind | what it does |
|---|---|---|
${rows.join('\n')}

## Commands the cluster uses internally

The manager moves hash slots between chains with these (docs/sharding.md). A node refuses them
where they would not be safe (src/server/admission.ts); they are not meant to be typed.

| usage | kind | what it does |
|---|---|---|
${internal.join('\n')}

## Error codes

Errors carry one of these stable codes (\`src/core/errors.ts\`), in the native protocol's
\`Error.code\`, in the client's \`CatenaError.code\`, and in the shell's \`(error) CODE: message\`.

| code | meaning |
|---|---|
${errors.join('\n')}
`;
}
