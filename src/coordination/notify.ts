// How both coordinator clients call user code (watchers, state listeners): synchronously, in
// order, and isolated from the client's own state. A watcher or listener that throws has a bug;
// its exception is re-thrown outside the client, as an uncaught exception (what an EventEmitter
// listener that throws does), so it is seen, never swallowed, and never leaves the client half
// way through an update.

import type { SessionState } from './coordinator.js';

export function notify<T>(listener: (value: T) => void, value: T): void {
  try {
    listener(value);
  } catch (error) {
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** The `onStateChange` listeners of one client. */
export class StateListeners {
  private readonly listeners = new Set<(state: SessionState) => void>();

  add(listener: (state: SessionState) => void): () => void {
    // Wrapped, so the same function added twice is called twice and each remover removes one.
    const entry = (state: SessionState) => listener(state);
    this.listeners.add(entry);
    return () => {
      this.listeners.delete(entry);
    };
  }

  emit(state: SessionState): void {
    for (const listener of [...this.listeners]) notify(listener, state);
  }

  clear(): void {
    this.listeners.clear();
  }
}
