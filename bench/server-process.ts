// Starts a real `catena server` process for benchmarks and waits for its listening line.

import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));

export interface ServerProcess {
  port: number;
  child: ChildProcess;
  stop(): Promise<void>;
}

export function startServer(options: { dataDir: string; durability: 'fsync' | 'memory' }): Promise<ServerProcess> {
  const main = fileURLToPath(new URL('../src/cli/main.ts', import.meta.url));
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      main,
      'server',
      '--port',
      '0',
      '--data-dir',
      options.dataDir,
      '--durability',
      options.durability,
      '--log-level',
      'warn',
    ],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  return new Promise((resolve, reject) => {
    let seen = '';
    child.once('exit', (code) => reject(new Error(`server exited early with code ${code}`)));
    child.stdout!.on('data', (chunk: Buffer) => {
      seen += chunk.toString();
      const match = /listening on [^:]+:(\d+)/.exec(seen);
      if (match === null) return;
      child.removeAllListeners('exit');
      resolve({
        port: Number(match[1]),
        child,
        stop: () =>
          new Promise((done) => {
            child.once('exit', () => done());
            child.kill('SIGTERM');
          }),
      });
    });
  });
}
