// Summarises V8 .cpuprofile files (from `node --cpu-prof`): for each file, the share of samples
// that were idle, garbage collection or program, then the functions with the most self time.
//   npx tsx scripts/cpuprofile-top.ts <file.cpuprofile>... [--top N]
// `catena up` passes its own node flags to the nodes it starts, so
//   node --cpu-prof --cpu-prof-dir=/tmp/prof bin/catena.js up
// profiles every node of a local cluster (profiles are written when the nodes stop on Ctrl-C).

import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const args = process.argv.slice(2);
const topIndex = args.indexOf('--top');
const top = topIndex >= 0 ? Number(args[topIndex + 1]) : 25;
const files = args.filter((arg, i) => !arg.startsWith('--') && (topIndex < 0 || i !== topIndex + 1));

for (const file of files) {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const self = new Map<string, number>();
  let total = 0;
  let idle = 0;
  let gc = 0;
  profile.samples.forEach((id, i) => {
    const delta = profile.timeDeltas[i] ?? 0;
    total += delta;
    const frame = byId.get(id)!.callFrame;
    if (frame.functionName === '(idle)') idle += delta;
    else if (frame.functionName === '(garbage collector)') gc += delta;
    const url = frame.url.replace(/^.*\/(node_modules\/|src\/|dist\/)/, '$1');
    const name = `${frame.functionName || '(anonymous)'} ${url}:${frame.lineNumber + 1}`;
    self.set(name, (self.get(name) ?? 0) + delta);
  });
  const busy = total - idle;
  const pct = (value: number, of: number) => `${((100 * value) / Math.max(1, of)).toFixed(1)}%`;
  console.log(`\n${file}: ${(total / 1e6).toFixed(1)} s sampled, idle ${pct(idle, total)}, gc ${pct(gc, total)}`);
  console.log(`  self time, share of busy time (${(busy / 1e6).toFixed(2)} s):`);
  const rows = [...self.entries()].filter(([name]) => !name.startsWith('(idle)')).sort((a, b) => b[1] - a[1]);
  for (const [name, time] of rows.slice(0, top)) console.log(`  ${pct(time, busy).padStart(6)}  ${name}`);
}
