import { LmdbStore } from '/work/main/src/storage/lmdb-store.ts';
import { systemClock } from '/work/main/src/core/clock.ts';
const store = new LmdbStore({ dataDir: process.argv[2]!, clock: systemClock, durability: 'memory' });
let i = 0;
const value = Buffer.alloc(2000, 7);
function turn() {
  const n = 1 + Math.floor(Math.random() * 200);
  for (let j = 0; j < n; j++) store.put(Buffer.from(`k${i++}`), value);
  if (i % 5000 < 200) process.stdout.write('.');
  setImmediate(turn);
}
turn();
