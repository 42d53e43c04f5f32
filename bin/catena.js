#!/usr/bin/env node
// The `catena` command. Runs the compiled CLI (npm run build, done by `npm ci` through the
// prepare script).
import '../dist/src/cli/main.js';
