// A client history: what each client asked, what it was told, and when (in any monotonic time
// unit: virtual ms in the simulator, performance.now() in real-process tests). This is the input
// of the linearizability checker; simulators and real-process tests both record it.

export type Input =
  | { f: 'get' }
  | { f: 'put'; value: string }
  | { f: 'del' }
  | { f: 'cas'; expectedVersion: number; value: string }
  | { f: 'incr'; delta: bigint }
  | { f: 'append'; value: string };

/**
 * What the client was told. `undefined` (on the operation) means it never learned: a timeout.
 * A version is absent where the protocol does not report one (Redis's GET and SET).
 */
export type Output =
  | { f: 'get'; found: false }
  | { f: 'get'; found: true; value: string; version?: number }
  | { f: 'put'; version?: number }
  | { f: 'del'; deleted: boolean }
  | { f: 'cas'; swapped: true; version: number }
  | { f: 'cas'; swapped: false; currentVersion: number }
  | { f: 'incr'; value: bigint }
  | { f: 'append'; length: number }
  /** A definite refusal with no effect (incr of a value that is not an integer, or overflow). */
  | { f: 'error'; reason: 'not-an-integer' | 'overflow' };

export interface Operation {
  readonly client: number;
  readonly key: string;
  readonly input: Input;
  /** Undefined when the outcome is unknown: it may have taken effect at any time after the call, or never. */
  readonly output: Output | undefined;
  readonly callAt: number;
  /** Ignored when the output is unknown (such an operation has no end). */
  readonly returnAt: number;
}

/** Records operations as a test or simulator runs them. */
export class HistoryRecorder {
  readonly operations: Operation[] = [];

  /** Call when the client sends; call the returned function with the outcome when it ends. */
  invoke(client: number, key: string, input: Input, callAt: number): (output: Output | undefined, at: number) => void {
    return (output, returnAt) => {
      this.operations.push({ client, key, input, output, callAt, returnAt });
    };
  }
}
