// A TCP port nothing listens on now: taken from the OS on loopback, then released. For a node
// whose port must be known before it starts, or for a client that must find nobody there.

import { createServer } from 'node:net';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address !== 'object') {
        server.close();
        reject(new Error('a TCP listener has a port'));
        return;
      }
      server.close((error) => (error === undefined ? resolve(address.port) : reject(error)));
    });
  });
}
