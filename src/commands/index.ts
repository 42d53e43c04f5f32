// The command table: every command Catena has, in one list. Nothing else lists commands.

import { append } from './append.js';
import { cas } from './cas.js';
import { del } from './del.js';
import { expire } from './expire.js';
import { get } from './get.js';
import { getkeys } from './getkeys.js';
import { gettable } from './gettable.js';
import { incr } from './incr.js';
import { ping } from './ping.js';
import { put } from './put.js';
import { scan } from './scan.js';
import { size } from './size.js';
import { stats } from './stats.js';
import { ttl } from './ttl.js';
import type { CommandDefinition, CommandName } from './types.js';

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
};

export const commandNames = Object.keys(commandTable) as CommandName[];

export function isCommandName(name: string): name is CommandName {
  return Object.hasOwn(commandTable, name);
}

export type { CommandContext, CommandDefinition, CommandName, NodeFacts, ReplyInit, RequestInit } from './types.js';
