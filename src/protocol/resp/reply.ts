// The value a RESP command answers with, independent of the protocol version: the session builds
// one of these and codec.ts `encodeReply` writes it as RESP2 or RESP3, whichever the connection
// chose with HELLO. Types RESP2 lacks fall back the way Redis's do:
//
//   kind         RESP3                      RESP2
//   simple       +text                      +text
//   error        -CODE message              -CODE message
//   integer      :n                         :n
//   bulk         $len data                  $len data
//   null         _                          $-1        (a missing value)
//   null-array   _                          *-1        (a missing array)
//   array        *n items                   *n items
//   map          %n k v ...                 *2n k v ...
//   set          ~n items                   *n items
//   double       ,1.5 ,inf ,-inf ,nan       $ bulk of the same text
//   boolean      #t #f                      :1 :0
//   verbatim     =len txt:data              $ bulk of data
//
// Pure data: no I/O, nothing to close.

export type RespProtocol = 2 | 3;

/** Redis's three-letter verbatim formats: plain text (INFO, CLIENT LIST) and markdown. */
export type VerbatimFormat = 'txt' | 'mkd';

export type RespReply =
  | { kind: 'simple'; text: string }
  | { kind: 'error'; code: string; message: string }
  | { kind: 'integer'; value: number | bigint }
  | { kind: 'bulk'; value: Uint8Array | string }
  | { kind: 'null' }
  | { kind: 'null-array' }
  | { kind: 'array'; items: readonly RespReply[] }
  | { kind: 'map'; entries: readonly (readonly [RespReply, RespReply])[] }
  | { kind: 'set'; items: readonly RespReply[] }
  | { kind: 'double'; value: number }
  | { kind: 'boolean'; value: boolean }
  | { kind: 'verbatim'; format: VerbatimFormat; text: Uint8Array | string }
  /** Bytes already in RESP form that read the same in RESP2 and RESP3 (an array of bulk strings): written as they are. */
  | { kind: 'encoded'; bytes: Uint8Array };

export const okReply: RespReply = { kind: 'simple', text: 'OK' };
export const nullReply: RespReply = { kind: 'null' };

/** `-CODE message`; code is Redis's error class, upper case (ERR, WRONGTYPE, MOVED, NOPROTO, ...). */
export function errorReply(code: string, message: string): RespReply {
  return { kind: 'error', code, message };
}

export function bulkReply(value: Uint8Array | string): RespReply {
  return { kind: 'bulk', value };
}

export function integerReply(value: number | bigint): RespReply {
  return { kind: 'integer', value };
}

export function arrayReply(items: readonly RespReply[]): RespReply {
  return { kind: 'array', items };
}
