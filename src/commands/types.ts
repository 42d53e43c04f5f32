// What one command is: data plus two small functions. The table (index.ts) is read by the node
// (to execute), the native session (to know what mutates), the client, the CLI and shell (to
// parse words and render replies) and the docs, so there is no second list of commands.

import type { MessageInitShape } from '@bufbuild/protobuf';
import type { Clock } from '../core/clock.js';
import type { RequestSchema, ResponseSchema } from '../protocol/native/gen/catena_pb.js';
import type { CommandCase, ReplyCase, RequestOf, ReplyOf } from '../protocol/native/codec.js';
import type { Store } from '../storage/store.js';

export type CommandName = CommandCase & ReplyCase;

type CommandInitUnion = NonNullable<MessageInitShape<typeof RequestSchema>['command']>;
type ResultInitUnion = NonNullable<MessageInitShape<typeof ResponseSchema>['result']>;
/** The fields a caller gives to build a request (defaults filled in by the codec). */
export type RequestInit<C extends CommandName> = NonNullable<Extract<CommandInitUnion, { case: C }>['value']>;
/** The fields a command returns (defaults filled in by the codec). */
export type ReplyInit<C extends CommandName> = NonNullable<Extract<ResultInitUnion, { case: C }>['value']>;

/** Facts about the running node that a command may report (the stats command). */
export interface NodeFacts {
  nodeId: string;
  durability: 'fsync' | 'memory';
  startedAtMs: number;
  version: string;
  connections(): { open: number; total: number };
  commandStats(): ReplyInit<'stats'>['commands'];
  /** Frames rejected before reaching a command. */
  protocolErrors(): number;
  /** The cluster as this node knows it (a standalone node: cluster '' and no chains). */
  topology(): ReplyInit<'topology'>;
  /** This node's replication state. */
  nodeStatus(): ReplyInit<'nodestatus'>;
}

export interface CommandContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly valueBytesMax: number;
  readonly node: NodeFacts;
  /** A cluster node's replica, which moves slots between chains (absent on a standalone node). */
  readonly slots?: SlotMover;
}

/**
 * Moving slots between chains (docs/sharding.md): the replica keeps the frozen slots and the
 * exactly-once client table, so the slot commands run there. Freeze, import and drop run as
 * logged writes on every replica alike; export is a read at the tail.
 */
export interface SlotMover {
  freeze(request: RequestOf<'slotfreeze'>): ReplyInit<'slotfreeze'>;
  exportPage(request: RequestOf<'slotexport'>): ReplyInit<'slotexport'>;
  importPage(request: RequestOf<'slotimport'>): ReplyInit<'slotimport'>;
  dropPage(request: RequestOf<'slotdrop'>): ReplyInit<'slotdrop'>;
}

export interface CommandDefinition<C extends CommandName> {
  readonly name: C;
  /** One line for help screens. */
  readonly summary: string;
  /** Arguments after the command name, as the CLI and shell take them. */
  readonly usage: string;
  /** True when the command changes stored data (and so waits for durability). */
  readonly mutates: boolean;
  /** One of the operations the seed documents asked for (put get del size getkeys gettable stats). */
  readonly seed: boolean;
  /**
   * Who may run it when the node requires authentication (src/protocol/acl.ts): `admin` needs
   * +@admin, `connection` any authenticated user; absent, +@write if it mutates, else +@read.
   */
  readonly access?: 'admin' | 'connection';
  /**
   * Sent by nodes and tools rather than typed by people (the slot commands the manager runs;
   * topology and nodestatus, which `catena status` and the cluster client ask): left out of the
   * CLI's and shell's help, suggestions and completion, but still run when named.
   */
  readonly hidden?: boolean;
  /**
   * For a conditional write: whether the reply says it happened (false: `set ... nx` found the
   * key, `cas` another version). The CLI exits non-zero when it did not (cli/exit-codes.ts).
   */
  conditionMet?(reply: ReplyOf<C>): boolean;
  /** Builds a request from shell or CLI words; throws ERR_INVALID_ARGUMENT on bad words. */
  parse(words: readonly Buffer[]): RequestInit<C>;
  /** Runs the request against the node's store; throws CatenaError for bad input. */
  execute(context: CommandContext, request: RequestOf<C>): ReplyInit<C>;
  /** Renders a reply for people (the shell, the CLI without --json). */
  render(reply: ReplyOf<C>): string;
}

export function defineCommand<C extends CommandName>(definition: CommandDefinition<C>): CommandDefinition<C> {
  return definition;
}
