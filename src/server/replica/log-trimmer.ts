// Trimming the log (docs/design.md §5): entries are kept while the successor or the joiner may
// still need them (their logs end no earlier than what they acknowledged), and at least
// `logEntriesKept` behind the newest; the trim runs now and then, not after every entry.

import type { ReplicaShell } from './shell.js';

/** Deliberate faults for the simulator's broken variants (never set in a node). */
export interface LogTrimmerFaults {
  /** Trims everything durable here, ignoring what the successor and joiner acknowledged. */
  ignorePeers?: boolean;
}

export class LogTrimmer {
  /** The highest acknowledgement each peer sent at the current epoch. */
  private readonly acked = new Map<string, number>();
  /** The log was last trimmed below this sequence. */
  private trimmedBelow = 0;

  constructor(
    private readonly shell: ReplicaShell,
    private readonly entriesKept: number,
    private readonly faults: LogTrimmerFaults = {},
  ) {}

  /** A new configuration: acknowledgements of earlier epochs say nothing of what a peer holds now. */
  newEpoch(): void {
    this.acked.clear();
  }

  /** A peer acknowledged `sequence` at the current epoch. */
  noteAck(peer: string, sequence: number): void {
    this.acked.set(peer, Math.max(this.acked.get(peer) ?? 0, sequence));
  }

  /** Trims now if enough has accumulated since the last trim. */
  trim(): void {
    const trimEvery = Math.min(1024, this.entriesKept);
    const progress = this.shell.core().progress;
    const below =
      this.faults.ignorePeers === true
        ? progress.persisted + 1
        : Math.min(progress.persisted - this.entriesKept, this.neededByPeers());
    if (below - this.trimmedBelow < trimEvery) return;
    this.trimmedBelow = below;
    this.shell.store.trimLog(below);
  }

  /** Entries after this may still be needed by the successor or the joiner: never trimmed past it. */
  private neededByPeers(): number {
    const config = this.shell.config();
    const members = config?.members ?? [];
    const self = this.shell.self;
    const index = members.indexOf(self);
    const peers: string[] = [];
    if (index >= 0 && index + 1 < members.length) peers.push(members[index + 1]!);
    if (index === members.length - 1 && config?.joining !== undefined) peers.push(config.joining);
    // Keep the entry at each bound too: a joiner's catch-up checks its last entry's epoch there.
    let bound = this.shell.core().progress.committed;
    for (const peer of peers) bound = Math.min(bound, this.acked.get(peer) ?? 0);
    return bound;
  }
}
