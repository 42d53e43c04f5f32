import { open } from 'lmdb';
import { join } from 'node:path';
const env = open({ path: join(process.argv[2]!, 'store.mdb'), maxDbs: 8, readOnly: true });
const data = env.openDB({ name: 'data', keyEncoding: 'binary', encoding: 'binary' });
const meta = env.openDB({ name: 'meta', encoding: 'msgpack' });
const state = meta.get('state') as { revision: number; keys: number; bytes: number };
let keys = 0, maxVersion = 0, bytes = 0;
for (const { key, value } of data.getRange({})) { keys++; bytes += key.length + value.length - 17; maxVersion = Math.max(maxVersion, value.readDoubleBE(1)); }
const bad = state.keys !== keys || state.revision < maxVersion;
console.log(JSON.stringify({ meta: state, actual: { keys, bytes, maxVersion } }), bad ? 'MISMATCH' : 'ok');
