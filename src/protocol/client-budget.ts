// The node-wide budget for what client connections make the node hold: reply bytes queued or
// sitting in a socket the client does not read, reads in flight (readReserveBytes each, until
// their replies exist), and partial requests. Each connection already bounds itself
// (connectionOutputBytesMax, pipelineDepthMax); this bounds their sum, which per-connection caps
// alone do not: 20 connections pipelining GET of an 8 MiB value without reading made a node hold
// 2 GiB.
//
//            total > bytesMax                         total <= lowWater (3/4 of bytesMax)
//   under -----------------------> over ------------------------------------------> under
//                                   |  a session holding anything reads nothing new;
//                                   |  every clientBudgetCheckMs: connections measured
//                                   |  again, and those whose clients have read nothing
//                                   |  for clientOutputStallMs are cut, largest first,
//                                   |  until the total is back under lowWater
//                                   +--> (back under lowWater: paused sessions resume)
//
// A client that reads its replies, however slowly, is never cut; one that never reads is cut
// once the node needs the memory back, with a logged reason. Redis's equivalent is
// client-output-buffer-limit (per class of client, off for normal clients by default) and
// maxmemory-clients.
//
// Sessions measure themselves (SessionIo keeps one share per connection up to date at the points
// where its bytes change); the budget only adds, compares, and decides whom to pause or cut.

import { assert } from '../core/assert.js';
import {
  clientBudgetCheckMs,
  clientOutputStallMs,
  clientReplySizeMemoryMs,
  readReserveBytes,
  repeatedWarningIntervalMs,
} from '../core/limits.js';
import type { Logger } from '../core/log.js';

/** What a budget needs from one connection. */
export interface BudgetMember {
  /** Measures the connection again and reports it (update); the budget asks while it is over. */
  measure(): void;
  /** The budget has room again: the connection reads on, if it paused for the budget. */
  resume(): void;
  /** Closes the connection at once: its client does not read its replies and the node needs the memory. */
  cut(fields: Record<string, unknown>): void;
}

/** One connection's part of the total, as it last measured itself. */
export class BudgetShare {
  /** Bytes this connection holds, as last measured. */
  held = 0;
  /** Bytes written to its socket and not yet taken by the kernel (the client has not read them). */
  unread = 0;
  /** When `unread` last shrank or was 0: a client that reads is making progress. */
  progressAtMs: number;
  waiting = false;

  constructor(
    readonly member: BudgetMember,
    nowMs: number,
  ) {
    this.progressAtMs = nowMs;
  }
}

export interface ClientBudgetOptions {
  /** The budget, in bytes, for every client connection of the node together. */
  readonly bytesMax: number;
  readonly log: Logger;
  /** Monotonic ms (performance.now in production; a test passes its own). */
  readonly nowMs?: () => number;
}

export class ClientBudget {
  readonly bytesMax: number;
  /** Under this again, paused sessions resume. */
  readonly lowWaterBytes: number;
  private totalBytes = 0;
  private over = false;
  private readonly shares = new Set<BudgetShare>();
  private timer: NodeJS.Timeout | undefined;
  private readonly nowMs: () => number;
  /** Connections cut for not reading, since start (for stats and tests). */
  cuts = 0;
  /** Times the node went over its budget and paused reading, since start. */
  pauses = 0;
  /** The largest reply written lately, and when that was (see readReserveBytes). */
  private largestReplyBytes = 0;
  private largestReplyAtMs = 0;
  /** The pause warning is logged at most once per repeatedWarningIntervalMs. */
  private pausedLoggedAtMs: number | undefined;
  private pausesLogged = 0;
  private leaveScheduled = false;

  constructor(private readonly options: ClientBudgetOptions) {
    assert(Number.isSafeInteger(options.bytesMax) && options.bytesMax > 0, 'a client budget is a count of bytes');
    this.bytesMax = options.bytesMax;
    this.lowWaterBytes = Math.floor((options.bytesMax * 3) / 4);
    this.nowMs = options.nowMs ?? (() => performance.now());
  }

  /** Bytes every connection holds, as they last measured themselves. */
  get heldBytes(): number {
    return this.totalBytes;
  }

  /**
   * What each read in flight counts for against this budget until its reply exists: at least
   * readReserveBytes, and as much as the largest reply any connection got within the last
   * clientReplySizeMemoryMs. While clients read large values, a few reads fill the budget, so a
   * burst of pipelined reads cannot overshoot it many times over (each session still counts its
   * own reads at readReserveBytes against its own limit).
   */
  get readReserveBytes(): number {
    return Math.max(readReserveBytes, this.largestReplyBytes);
  }

  /** A reply of `bytes` was written to some client. */
  noteReply(bytes: number): void {
    const now = this.nowMs();
    if (bytes >= this.largestReplyBytes || now - this.largestReplyAtMs > clientReplySizeMemoryMs) {
      this.largestReplyBytes = bytes;
      this.largestReplyAtMs = now;
    }
  }

  /** Connections taking part. */
  get connections(): number {
    return this.shares.size;
  }

  join(member: BudgetMember): BudgetShare {
    const share = new BudgetShare(member, this.nowMs());
    this.shares.add(share);
    return share;
  }

  leave(share: BudgetShare): void {
    if (!this.shares.delete(share)) return;
    this.totalBytes -= share.held;
    share.held = 0;
    share.waiting = false;
    assert(this.totalBytes >= 0, 'the budget never holds less than nothing');
  }

  /** A connection measured itself: `held` bytes in all, `unread` of them in its socket. */
  update(share: BudgetShare, held: number, unread: number): void {
    if (!this.shares.has(share)) return; // closed
    this.totalBytes += held - share.held;
    share.held = held;
    if (unread === 0 || unread < share.unread) share.progressAtMs = this.nowMs();
    share.unread = unread;
    if (!this.over && this.totalBytes > this.bytesMax) this.enterOver();
    else if (this.over && this.totalBytes <= this.lowWaterBytes) this.scheduleLeave();
  }

  /**
   * True while the node is over its budget and this connection holds something (a reply, a read in
   * flight, part of a request): it pauses, and is resumed when there is room again. A connection
   * holding nothing may still start one request, so a new client (a health check) is answered
   * while others' replies wait.
   */
  exceeded(share: BudgetShare): boolean {
    if (!this.over || share.held === 0) return false;
    share.waiting = true;
    return true;
  }

  /** Stops the check timer (the node is stopping). */
  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }

  private enterOver(): void {
    this.over = true;
    this.pauses += 1;
    const now = this.nowMs();
    if (this.pausedLoggedAtMs === undefined || now - this.pausedLoggedAtMs >= repeatedWarningIntervalMs) {
      this.options.log.log('warn', 'client connections hold more than the node-wide budget: reading paused', {
        heldBytes: this.totalBytes,
        budgetBytes: this.bytesMax,
        connections: this.shares.size,
        pausesSinceLastLine: this.pauses - this.pausesLogged,
      });
      this.pausedLoggedAtMs = now;
      this.pausesLogged = this.pauses;
    }
    this.timer ??= setInterval(() => this.check(), clientBudgetCheckMs);
    this.timer.unref();
  }

  /**
   * While over: back under the low-water mark, every paused connection resumes; still over, the
   * connections whose clients have read nothing for clientOutputStallMs are cut. Runs from a timer
   * while over (tests call it directly).
   * Every connection is measured again first: a client reading slowly shrinks its socket's
   * buffer without an event.
   */
  check(): void {
    for (const share of [...this.shares]) share.member.measure();
    if (this.totalBytes <= this.lowWaterBytes) {
      this.leaveOver();
      return;
    }
    const now = this.nowMs();
    const stalled = [...this.shares]
      .filter((share) => share.unread > 0 && now - share.progressAtMs >= clientOutputStallMs)
      .sort((a, b) => b.held - a.held);
    let total = this.totalBytes;
    for (const share of stalled) {
      if (total <= this.lowWaterBytes) break;
      total -= share.held;
      this.cuts += 1;
      share.member.cut({
        heldBytes: share.held,
        unreadBytes: share.unread,
        notReadForMs: Math.round(now - share.progressAtMs),
        nodeHeldBytes: this.totalBytes,
        budgetBytes: this.bytesMax,
      });
      this.leave(share); // its socket's close would do it too, a moment later
    }
    if (this.totalBytes <= this.lowWaterBytes) this.leaveOver();
  }

  /** Back under the low-water mark between checks: resume at once (outside the caller's stack), not at the next check. */
  private scheduleLeave(): void {
    if (this.leaveScheduled) return;
    this.leaveScheduled = true;
    setImmediate(() => {
      this.leaveScheduled = false;
      if (this.over && this.totalBytes <= this.lowWaterBytes) this.leaveOver();
    });
  }

  private leaveOver(): void {
    this.over = false;
    this.close();
    const waiting = [...this.shares].filter((share) => share.waiting);
    for (const share of waiting) share.waiting = false;
    for (const share of waiting) share.member.resume();
  }
}
