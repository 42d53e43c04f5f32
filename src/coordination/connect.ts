// Picks the coordinator backend from the URL's scheme:
//   zk://host:port[,host:port...][/chroot]   ZooKeeper (zookeeper-coordinator.ts)
//   embedded://host:port                     the embedded coordinator of `catena up`
// Anything else is a usage error (ERR_INVALID_ARGUMENT), raised before any connection attempt.

import { CatenaError } from '../core/errors.js';
import type { ConnectOptions, Coordinator } from './coordinator.js';
import { connectEmbedded } from './embedded-client.js';
import { connectZooKeeper } from './zookeeper-coordinator.js';

export const coordinatorUrlSchemes = ['zk://', 'embedded://'] as const;

export function connectCoordinator(url: string, options: ConnectOptions): Promise<Coordinator> {
  if (url.startsWith('zk://')) return connectZooKeeper(url, options);
  if (url.startsWith('embedded://')) return connectEmbedded(url, options);
  return Promise.reject(
    new CatenaError(
      'ERR_INVALID_ARGUMENT',
      `unsupported coordinator URL ${JSON.stringify(url)}: expected zk://host:port[,host:port...][/chroot] or embedded://host:port`,
    ),
  );
}
