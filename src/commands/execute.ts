// Runs one decoded request through the command table and decides when its reply may leave.
//
// Ordering contract (`durable`, which a node passes in both durability modes): a reply is released
// only after every mutation it could have observed is durable — on disk with fsync durability,
// written to the OS (no fsync) with memory durability, so a crash of the process never takes back
// an answer. A write waits for the sync covering it; a read issued while other writes are unsynced
// waits for that same sync, so no client ever sees a value that a crash could still take back.
// With nothing unsynced, reads are answered at once. Syncs are shared: every request waiting in
// one event turn waits on one flush (group fsync, or one transaction without fsync).

import { commandByName, type CommandContext, type CommandName } from './index.js';
import { CatenaError, type ErrorCode } from '../core/errors.js';
import { AssertionError } from '../core/assert.js';
import type { Request, ResponseResult } from '../protocol/native/codec.js';

export type Execution =
  | { kind: 'now'; result: ResponseResult; command: CommandName | undefined }
  | { kind: 'after-sync'; result: ResponseResult; command: CommandName; sync: Promise<void> }
  /** Answered later (a replicated write: once the chain has committed it). Never rejects. */
  | { kind: 'later'; result: Promise<ResponseResult>; command: CommandName };

export function errorResult(code: ErrorCode, message?: string): ResponseResult {
  const error = new CatenaError(code, message);
  return { case: 'error', value: { $typeName: 'catena.v1.Error', code: error.code, message: error.message } };
}

export function execute(context: CommandContext, request: Request, durable: boolean): Execution {
  const name = request.command.case;
  if (name === undefined) {
    return {
      kind: 'now',
      result: errorResult('ERR_UNKNOWN_COMMAND', 'request names no command this node knows'),
      command: undefined,
    };
  }
  let result: ResponseResult;
  try {
    result = { case: name, value: commandByName(name).execute(context, request.command.value) } as ResponseResult;
  } catch (error) {
    if (error instanceof AssertionError) throw error; // a broken invariant stops the node
    if (error instanceof CatenaError) result = errorResult(error.code, error.message);
    else result = errorResult('ERR_INTERNAL', error instanceof Error ? error.message : String(error));
  }
  if (durable && !context.store.isSynced()) {
    return { kind: 'after-sync', result, command: name, sync: context.store.sync() };
  }
  return { kind: 'now', result, command: name };
}
