// The sequential specification of one Catena key: a register holding bytes (here a string) with
// a version that every mutation raises. Versions come from a counter shared by many keys, so one
// key sees increasing versions with gaps; the model therefore knows a version exactly only when a
// client was told it, and otherwise keeps a lower bound.
//
//   state = { value | absent, version, exact }      exact: version is the key's version
//                                                   inexact: the key's version is >= version

import { assert, unreachable } from '../../core/assert.js';
import type { Input, Output } from './history.js';

export interface RegisterState {
  readonly value: string | null;
  readonly version: number;
  readonly exact: boolean;
}

export const initialRegister: RegisterState = { value: null, version: 0, exact: true };

export function registerKey(state: RegisterState): string {
  return `${state.exact ? 'e' : 'i'}${state.version}:${state.value === null ? '-' : `+${state.value}`}`;
}

const int64Max = 2n ** 63n - 1n;
const int64Min = -(2n ** 63n);
const integerPattern = /^(0|-?[1-9][0-9]{0,18})$/;

function asInteger(value: string | null): bigint | undefined {
  if (value === null) return 0n;
  if (!integerPattern.test(value)) return undefined;
  const n = BigInt(value);
  return n > int64Max || n < int64Min ? undefined : n;
}

/** Could the key's version be `version` in this state? */
function versionCouldBe(state: RegisterState, version: number): boolean {
  return state.exact ? version === state.version : version >= state.version;
}

/** A mutation whose new version the client was not told. */
function bumped(state: RegisterState, value: string | null): RegisterState {
  return { value, version: state.version + 1, exact: false };
}

/** A mutation whose new version the client was told: it must be above the old one. */
function written(state: RegisterState, value: string | null, version: number): RegisterState | undefined {
  return version >= state.version + 1 ? { value, version, exact: true } : undefined;
}

/**
 * Applies one operation to the state. Returns the next state, or undefined when the output is
 * impossible in this state. With an unknown output the operation is taken to have had its
 * effect where it can have one; "it never happened" is covered by the checker placing it last,
 * so an operation with an unknown output is never impossible.
 */
export function stepRegister(
  state: RegisterState,
  input: Input,
  output: Output | undefined,
): RegisterState | undefined {
  if (output?.f === 'error') {
    const n = asInteger(state.value);
    if (input.f !== 'incr') return undefined;
    if (output.reason === 'not-an-integer') return n === undefined ? state : undefined;
    return n !== undefined && (n + input.delta > int64Max || n + input.delta < int64Min) ? state : undefined;
  }
  assert(output === undefined || output.f === input.f, 'an output answers its own input');
  switch (input.f) {
    case 'get': {
      if (output === undefined) return state;
      const out = output as Extract<Output, { f: 'get' }>;
      if (!out.found) return state.value === null ? state : undefined;
      if (state.value !== out.value) return undefined;
      if (out.version === undefined) return state; // a read that does not report versions
      if (!versionCouldBe(state, out.version)) return undefined;
      return { value: state.value, version: out.version, exact: true };
    }
    case 'put': {
      const version = (output as Extract<Output, { f: 'put' }> | undefined)?.version;
      if (version === undefined) return bumped(state, input.value);
      return written(state, input.value, version);
    }
    case 'del': {
      if (output === undefined) return state.value === null ? state : bumped(state, null);
      const deleted = (output as Extract<Output, { f: 'del' }>).deleted;
      if (deleted !== (state.value !== null)) return undefined;
      return deleted ? bumped(state, null) : state;
    }
    case 'cas':
      return stepCas(state, input, output as Extract<Output, { f: 'cas' }> | undefined);
    case 'incr': {
      // Refused here (not an integer, or overflow): with an unknown outcome that is no effect.
      const n = asInteger(state.value);
      if (n === undefined) return output === undefined ? state : undefined;
      const next = n + input.delta;
      if (next > int64Max || next < int64Min) return output === undefined ? state : undefined;
      if (output !== undefined && (output as Extract<Output, { f: 'incr' }>).value !== next) return undefined;
      return bumped(state, next.toString());
    }
    case 'append': {
      const value = (state.value ?? '') + input.value;
      const length = (output as Extract<Output, { f: 'append' }> | undefined)?.length;
      if (length !== undefined && length !== Buffer.byteLength(value)) return undefined;
      return bumped(state, value);
    }
    default:
      return unreachable(input, 'input');
  }
}

function stepCas(
  state: RegisterState,
  input: Extract<Input, { f: 'cas' }>,
  output: Extract<Output, { f: 'cas' }> | undefined,
): RegisterState | undefined {
  // The store compares with 0 when the key is absent, whatever versions it had before.
  const matches = state.value === null ? input.expectedVersion === 0 : versionCouldBe(state, input.expectedVersion);
  if (output === undefined) return matches ? bumped(state, input.value) : state;
  if (output.swapped) return matches ? written(state, input.value, output.version) : undefined;
  if (state.value === null) return output.currentVersion === 0 && input.expectedVersion !== 0 ? state : undefined;
  if (output.currentVersion === input.expectedVersion || !versionCouldBe(state, output.currentVersion))
    return undefined;
  return { value: state.value, version: output.currentVersion, exact: true };
}
