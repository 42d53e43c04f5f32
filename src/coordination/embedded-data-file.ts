// The embedded coordinator's data file: every persistent znode, as JSON —
//   {"format": "catena-embedded-coordinator", "version": 1,
//    "znodes": [{"path", "data" (base64), "version", "cversion"}, ...]}   (parents first)
// Written whole and atomically (temp file, fsync, rename, fsync of the directory), so a crash
// leaves either the old file or the new one. A missing file is an empty tree; a corrupt one
// stops the start-up (ERR_STORAGE) rather than silently losing chain configurations.

import { open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CatenaError } from '../core/errors.js';
import { ZnodeTree, type PersistedZnode } from './embedded-tree.js';

const dataFileFormat = 'catena-embedded-coordinator';
const dataFileVersion = 1;

export async function loadTree(path: string): Promise<ZnodeTree> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new ZnodeTree();
    throw new CatenaError('ERR_STORAGE', `cannot read coordinator data file ${path}`, { cause: error });
  }
  try {
    const parsed: unknown = JSON.parse(text);
    return ZnodeTree.fromPersisted(persistedZnodes(parsed));
  } catch (error) {
    throw new CatenaError('ERR_STORAGE', `coordinator data file ${path} is corrupt: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

function persistedZnodes(parsed: unknown): PersistedZnode[] {
  const file = parsed as { format?: unknown; version?: unknown; znodes?: unknown };
  if (typeof parsed !== 'object' || parsed === null || file.format !== dataFileFormat)
    throw new Error('not a data file');
  if (file.version !== dataFileVersion) throw new Error(`unsupported version ${String(file.version)}`);
  if (!Array.isArray(file.znodes)) throw new Error('znodes is not a list');
  return file.znodes.map((item: unknown) => {
    const znode = item as Partial<Record<keyof PersistedZnode, unknown>>;
    const valid =
      typeof item === 'object' &&
      item !== null &&
      typeof znode.path === 'string' &&
      typeof znode.data === 'string' &&
      Number.isSafeInteger(znode.version) &&
      Number.isSafeInteger(znode.cversion);
    if (!valid) throw new Error(`bad znode entry ${JSON.stringify(item)}`);
    return item as PersistedZnode;
  });
}

/** Replaces the file atomically and durably: temp file, fsync, rename, fsync of the directory. */
export async function writeTreeFile(path: string, znodes: readonly PersistedZnode[]): Promise<void> {
  const temp = `${path}.tmp`;
  const body = JSON.stringify({ format: dataFileFormat, version: dataFileVersion, znodes });
  const handle = await open(temp, 'w');
  try {
    await handle.writeFile(body, 'utf8');
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  const directory = await open(dirname(path), 'r');
  try {
    await directory.sync();
  } finally {
    await directory.close();
  }
}
