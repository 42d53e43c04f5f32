// Splits a shell line into words, binary-safe. Unquoted words end at whitespace. "double
// quotes" allow escapes: \n \r \t \0 \\ \" \' and \xHH for any byte. 'single quotes' are
// literal. Adjacent parts join ("a"'b'c is one word: abc), as in a Unix shell and redis-cli.

export type WordsResult = { ok: true; words: Buffer[] } | { ok: false; error: string };

const simpleEscapes: Record<string, number> = { n: 10, r: 13, t: 9, '0': 0, '\\': 92, '"': 34, "'": 39, ' ': 32 };

export function splitWords(line: string): WordsResult {
  const words: Buffer[] = [];
  let current: number[] | undefined;
  const input = Buffer.from(line, 'utf8');
  let i = 0;
  const push = (byte: number) => (current ??= []).push(byte);
  while (i < input.length) {
    const byte = input[i]!;
    if (byte === 0x20 || byte === 0x09) {
      if (current !== undefined) words.push(Buffer.from(current));
      current = undefined;
      i += 1;
    } else if (byte === 0x27) {
      const end = input.indexOf(0x27, i + 1);
      if (end < 0) return { ok: false, error: 'unterminated single quote' };
      current ??= [];
      for (let j = i + 1; j < end; j++) push(input[j]!);
      i = end + 1;
    } else if (byte === 0x22) {
      current ??= [];
      i += 1;
      for (;;) {
        if (i >= input.length) return { ok: false, error: 'unterminated double quote' };
        const b = input[i]!;
        if (b === 0x22) break;
        if (b !== 0x5c) {
          push(b);
          i += 1;
          continue;
        }
        if (i + 1 >= input.length) return { ok: false, error: 'unterminated double quote' };
        const next = String.fromCharCode(input[i + 1]!);
        if (next === 'x') {
          const hex = input.subarray(i + 2, i + 4).toString('latin1');
          if (!/^[0-9a-fA-F]{2}$/.test(hex)) return { ok: false, error: '\\x needs two hex digits' };
          push(Number.parseInt(hex, 16));
          i += 4;
        } else if (simpleEscapes[next] !== undefined) {
          push(simpleEscapes[next]);
          i += 2;
        } else {
          const shown = input
            .subarray(i + 1, i + 5)
            .toString('utf8')
            .charAt(0);
          return { ok: false, error: `unknown escape \\${shown}` };
        }
      }
      i += 1;
    } else {
      push(byte);
      i += 1;
    }
  }
  if (current !== undefined) words.push(Buffer.from(current));
  return { ok: true, words };
}
