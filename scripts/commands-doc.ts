// Writes docs/commands.md from the command table (`npm run docs`). A test checks the file is
// current, so the docs cannot drift from the code.

import { writeFileSync } from 'node:fs';
import { renderCommandsDoc } from '../src/commands/doc.js';

writeFileSync(new URL('../docs/commands.md', import.meta.url), renderCommandsDoc());
