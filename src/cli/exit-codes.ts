// The exit codes of every `catena` command that talks to a cluster, in one place so they do not
// collide and the help and docs (docs/cli.md) list the same ones. `catena status`'s 4 and 5 are
// the health of the report (client/cluster-health.ts).

import { statusExitCodes } from '../client/cluster-health.js';
import type { CatenaError } from '../core/errors.js';

export const exitCodes = {
  ok: 0,
  /** The node answered with an error (ERR_NOT_AN_INTEGER, ERR_NOPERM, ...). */
  errorReply: 1,
  /** Bad usage: an unknown command or option, a wrong argument, a bad config file. */
  usage: 2,
  /** No node could be reached: refused, closed, or no reply before --timeout. */
  unreachable: 3,
  degraded: statusExitCodes.degraded,
  unavailable: statusExitCodes.unavailable,
  /** A conditional write did not happen (`set ... nx|xx|version=`, `cas`); 0 with --unmet-ok. */
  conditionNotMet: 6,
  /** A bug in catena: the stack trace is printed. */
  internal: 70,
} as const;

/**
 * Errors that say nothing was reached, rather than that something answered "no". A timeout is
 * one: the request may or may not have been applied, as with a refused connection mid-retry.
 */
export const unreachableCodes: ReadonlySet<string> = new Set([
  'ERR_CONNECTION_FAILED',
  'ERR_CONNECTION_CLOSED',
  'ERR_TIMEOUT',
  'ERR_SHUTTING_DOWN',
]);

export function exitCodeOf(error: CatenaError): number {
  if (error.code === 'ERR_INVALID_ARGUMENT') return exitCodes.usage;
  if (unreachableCodes.has(error.code)) return exitCodes.unreachable;
  return exitCodes.errorReply;
}

/** For `catena --help` and each command's help. */
export const exitCodesHelp = `Exit codes:
  0   success
  1   the node answered with an error
  2   bad usage (unknown command or option, bad argument, bad config file)
  3   cannot reach the cluster (connection refused or closed, no reply before --timeout)
  4   catena status: degraded;  5  catena status: unavailable
  6   a conditional write did not happen (set ... nx/xx/version=, cas); 0 with --unmet-ok
  70  internal error (a bug: please report it with the message)`;
