// maxclients: how many client connections (native, RESP and memcached together) a node accepts,
// sized from the process's open-file limit at start, as Redis sizes its maxclients from
// RLIMIT_NOFILE (Redis also raises the limit with setrlimit; Node has no setrlimit, so an
// operator raises it with `ulimit -n` or systemd's LimitNOFILE=). Without this, a node whose
// descriptors run out cannot accept anything at all: with `ulimit -n 1024`, 998 idle sockets
// locked out new clients and the admin /health, with no log line. Here clientFdReserve
// descriptors stay for the admin port, peer connections, the coordinator, LMDB and log files,
// and a connection past the limit is answered the way Redis or memcached answers it and closed,
// with a warning in the log (at most one per repeatedWarningIntervalMs, counting the others).
//
// Node has no getrlimit either. On Linux the limit is read from /proc/self/limits (no process is
// spawned); elsewhere it is unknown and only connectionsMax applies.

import { readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { assert } from '../core/assert.js';
import { clientFdReserve, connectionsMax, repeatedWarningIntervalMs } from '../core/limits.js';
import type { Logger } from '../core/log.js';

/** The soft "Max open files" limit in the text of /proc/<pid>/limits; undefined if absent or unlimited. */
export function parseOpenFilesLimit(limitsText: string): number | undefined {
  const match = /^Max open files\s+(\S+)\s+(\S+)/m.exec(limitsText);
  if (match === null || !/^\d+$/.test(match[1]!)) return undefined;
  return Number(match[1]);
}

/** This process's soft RLIMIT_NOFILE, read from /proc/self/limits; undefined where that cannot be read. */
export function readOpenFilesLimit(): number | undefined {
  try {
    return parseOpenFilesLimit(readFileSync('/proc/self/limits', 'utf8'));
  } catch {
    return undefined;
  }
}

export interface ClientsMax {
  /** Client connections accepted at once. */
  readonly max: number;
  /** Why: for the start-up log line. */
  readonly reason: string;
  /** The request could not be honoured (Redis: "You requested maxclients of ..."). */
  readonly reduced: boolean;
}

/** maxclients from an explicit request (`--max-clients`) and the open-file limit, when known. */
export function clientsMaxFor(options: { requested?: number; openFilesLimit: number | undefined }): ClientsMax {
  const requested = options.requested ?? connectionsMax;
  assert(Number.isSafeInteger(requested) && requested >= 1, 'maxclients is a positive count');
  const limit = options.openFilesLimit;
  if (limit === undefined) return { max: requested, reason: 'open-file limit unknown', reduced: false };
  // A tiny limit still leaves clients half of it rather than none.
  const room = Math.max(1, limit > 2 * clientFdReserve ? limit - clientFdReserve : Math.floor(limit / 2));
  if (requested <= room) {
    return { max: requested, reason: `open-file limit ${limit}, ${clientFdReserve} kept back`, reduced: false };
  }
  return {
    max: room,
    reason: `open-file limit ${limit} (ulimit -n), ${limit - room} kept back for the admin port, peers and files`,
    reduced: options.requested !== undefined,
  };
}

export type ClientProtocol = 'native' | 'resp' | 'memcached';

/** What each protocol tells a client it refuses for this reason before closing (Redis's and memcached's words). */
const refusals: Record<ClientProtocol, string> = {
  native: '',
  resp: '-ERR max number of clients reached\r\n',
  memcached: 'SERVER_ERROR Too many open connections\r\n',
};

/** Counts client connections against maxclients; past it, refuses new ones with a (rate-limited) warning. */
export class ClientAdmission {
  private open = 0;
  private refusedSinceWarning = 0;
  private warnedAtMs: number | undefined;
  /** Connections refused since start. */
  refused = 0;

  constructor(
    readonly max: number,
    private readonly log: Logger,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    assert(Number.isSafeInteger(max) && max >= 1, 'maxclients is a positive count');
  }

  get connections(): number {
    return this.open;
  }

  /** A new connection: true if it is admitted (call release() when it closes); false: it was refused and closed. */
  admit(socket: Socket, protocol: ClientProtocol): boolean {
    if (this.open < this.max) {
      this.open += 1;
      return true;
    }
    this.refused += 1;
    this.refusedSinceWarning += 1;
    const now = this.nowMs();
    if (this.warnedAtMs === undefined || now - this.warnedAtMs >= repeatedWarningIntervalMs) {
      this.log.log('warn', 'max number of clients reached: refusing new client connections', {
        maxClients: this.max,
        protocol,
        refused: this.refusedSinceWarning,
      });
      this.warnedAtMs = now;
      this.refusedSinceWarning = 0;
    }
    socket.on('error', () => undefined);
    const message = refusals[protocol];
    if (message === '') socket.destroy();
    else socket.end(message, () => socket.destroy());
    return false;
  }

  release(): void {
    assert(this.open > 0, 'a released connection was admitted');
    this.open -= 1;
  }
}
