// The command table: every command Catena has, in one list. Nothing else lists commands.

import { append } from './append.js';
import { cas } from './cas.js';
import { del } from './del.js';
import { expire } from './expire.js';
import { flush } from './flush.js';
import { get } from './get.js';
import { getdel } from './getdel.js';
import { getkeys } from './getkeys.js';
import { gettable } from './gettable.js';
import { incr } from './incr.js';
import { mget } from './mget.js';
import { mput } from './mput.js';
import { nodestatus } from './nodestatus.js';
import { ping } from './ping.js';
import { put } from './put.js';
import { scan } from './scan.js';
import { set } from './set.js';
import { size } from './size.js';
import { slotdrop } from './slotdrop.js';
import { slotexport } from './slotexport.js';
import { slotfreeze } from './slotfreeze.js';
import { slotimport } from './slotimport.js';
import { stats } from './stats.js';
import { topology } from './topology.js';
import { ttl } from './ttl.js';
import type { CommandContext, CommandDefinition, CommandName } from './types.js';

export const commandTable: { readonly [C in CommandName]: CommandDefinition<C> } = {
  put,
  get,
  del,
  size,
  getkeys,
  gettable,
  stats,
  cas,
  incr,
  append,
  expire,
  ttl,
  scan,
  ping,
  topology,
  nodestatus,
  set,
  mget,
  mput,
  getdel,
  flush,
  slotfreeze,
  slotexport,
  slotimport,
  slotdrop,
};

export const commandNames = Object.keys(commandTable) as CommandName[];

/**
 * A table entry seen without its request and reply types, for code that dispatches on a name it
 * got at run time (the node, the CLI, the shell). Sound because every entry is indexed by its own
 * name: the request built or received for a name is that command's request.
 */
export interface UntypedCommand {
  readonly name: CommandName;
  readonly mutates: boolean;
  readonly access?: 'admin' | 'connection';
  readonly hidden?: boolean;
  conditionMet?(reply: unknown): boolean;
  parse(words: readonly Buffer[]): object;
  execute(context: CommandContext, request: unknown): object;
  render(reply: unknown): string;
}

export function commandByName(name: CommandName): UntypedCommand {
  return commandTable[name] as unknown as UntypedCommand;
}

/** The commands help screens and completion list: every one but the hidden ones. */
export const listedCommandNames: readonly CommandName[] = commandNames.filter((name) => !commandTable[name].hidden);

/** Width of the widest usage line, for help screens that list every command. */
export const usageWidth = Math.max(...listedCommandNames.map((name) => commandTable[name].usage.length));

/** Commands a node answers about itself wherever it sits in a chain (not routed to head or tail). */
export const nodeLocalCommands: ReadonlySet<CommandName> = new Set<CommandName>([
  'stats',
  'ping',
  'topology',
  'nodestatus',
]);

/** Commands that move slots between chains: run by the manager, routed to a chain, not by key. */
export const slotCommands: ReadonlySet<CommandName> = new Set<CommandName>([
  'slotfreeze',
  'slotexport',
  'slotimport',
  'slotdrop',
]);

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(commandTable, name);
}

export type { SlotMover } from './types.js';
export type { CommandContext, CommandDefinition, CommandName, NodeFacts, ReplyInit, RequestInit } from './types.js';
