// Program order for one connection whose commands may finish out of order (a cluster node relays
// them to different nodes, retries some): a command enters the gate when it is read and runs once
// every earlier command it must follow has finished.
//
//   * a read follows every earlier write of the connection (so a pipelined SET a / GET b sees the
//     world as Redis's one-at-a-time execution would: no store-buffer reordering);
//   * a write follows the earlier write on each of its keys and the reads of those keys since,
//     and every earlier read of all keys (KEYS, SCAN, DBSIZE);
//   * a write of all keys (FLUSHALL, flush_all) follows everything before it, and everything
//     after it follows it (it counts as a write).
// Writes to different keys are not ordered against each other here: they leave in order, on one
// connection to the head, and are applied in that order unless a failover makes one of them retry.
//
// Cost: O(keys) per command, never O(commands in flight): each rule waits on one promise that
// stands for a whole group (the latest write of a key, every write so far, ...).

export type GateKeys = readonly string[] | 'all';

interface KeyState {
  /** The latest write of this key still in flight. */
  write: Promise<void> | undefined;
  /** Every read of this key since that write. */
  reads: Promise<void> | undefined;
  /** Commands in flight on this key (the entry goes when it is 0). */
  pending: number;
}

const join = (a: Promise<void> | undefined, b: Promise<void>): Promise<void> =>
  a === undefined ? b : Promise.all([a, b]).then(() => undefined);

export class OrderGate {
  private readonly keys = new Map<string, KeyState>();
  /** Every write entered so far (and not known finished). */
  private writes: Promise<void> | undefined;
  /** Every read of all keys entered so far. */
  private allReads: Promise<void> | undefined;
  /** Every command entered so far. */
  private everything: Promise<void> | undefined;
  private inFlight = 0;

  /**
   * Registers a command in arrival order. `ready` is undefined when it may run at once, else a
   * promise to wait for; `release` must be called once when it has finished (whatever the outcome).
   */
  enter(given: GateKeys, write: boolean): { ready: Promise<unknown> | undefined; release: () => void } {
    // A key named twice is one key (a write must not wait for itself).
    const keys = given === 'all' ? 'all' : given.length < 2 ? given : [...new Set(given)];
    let resolve!: () => void;
    const done = new Promise<void>((r) => (resolve = r));
    const waits: Promise<void>[] = [];
    const touched: KeyState[] = [];
    if (write && keys === 'all') {
      if (this.everything !== undefined) waits.push(this.everything);
    } else if (write) {
      if (this.allReads !== undefined) waits.push(this.allReads);
      for (const key of keys) {
        const state = this.state(key);
        if (state.write !== undefined) waits.push(state.write);
        if (state.reads !== undefined) waits.push(state.reads);
        state.write = done;
        state.reads = undefined;
        touched.push(state);
      }
    } else {
      if (this.writes !== undefined) waits.push(this.writes);
      if (keys === 'all') this.allReads = join(this.allReads, done);
      else {
        for (const key of keys) {
          const state = this.state(key);
          state.reads = join(state.reads, done);
          touched.push(state);
        }
      }
    }
    if (write) this.writes = join(this.writes, done);
    this.everything = join(this.everything, done);
    this.inFlight += 1;
    for (const state of touched) state.pending += 1;
    const names = keys === 'all' ? [] : keys;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      resolve();
      names.forEach((key, i) => {
        const state = touched[i]!;
        state.pending -= 1;
        if (state.pending === 0 && this.keys.get(key) === state) this.keys.delete(key);
      });
      this.inFlight -= 1;
      if (this.inFlight === 0) {
        // Nothing in flight: every group has finished; start afresh (no chains of settled promises).
        this.writes = undefined;
        this.allReads = undefined;
        this.everything = undefined;
      }
    };
    const ready = waits.length === 0 ? undefined : waits.length === 1 ? waits[0] : Promise.all(waits);
    return { ready, release };
  }

  private state(key: string): KeyState {
    let state = this.keys.get(key);
    if (state === undefined) {
      state = { write: undefined, reads: undefined, pending: 0 };
      this.keys.set(key, state);
    }
    return state;
  }
}
