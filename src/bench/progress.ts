// The progress bar `catena bench` draws on stderr while it runs:
//
//   run      [############..................]  42% 12.3k ops/s 5.1s/12s
//
// Redrawn in place (carriage return, then erase to the end of the line) at most every
// benchRedrawIntervalMs, and only when the stream is a terminal: piped into a file or a CI log it
// writes nothing, so the output stays clean. The load has a line of its own, left in its final
// state; the warm-up and the run share the next one; `finish` ends it.
//
// `renderProgress` is pure (tested); `ProgressBar` only decides when to write.

import type { Phase, Progress } from './workload.js';
import { benchRedrawIntervalMs } from '../core/limits.js';

const barWidth = 30;

/** What the bar writes to: process.stderr, or a fake in the tests. */
export interface ProgressStream {
  readonly isTTY?: boolean;
  write(text: string): boolean;
}

export class ProgressBar {
  private drawnAtMs = -Infinity;
  private phase: Phase | undefined;

  constructor(
    private readonly stream: ProgressStream = process.stderr,
    private readonly nowMs: () => number = () => performance.now(),
  ) {}

  /** Takes a progress report (a workload's onProgress); redraws when it is time to. */
  update(progress: Progress): void {
    if (this.stream.isTTY !== true) return;
    const now = this.nowMs();
    const newPhase = progress.phase !== this.phase;
    const complete = fraction(progress) >= 1;
    if (!newPhase && !complete && now - this.drawnAtMs < benchRedrawIntervalMs) return;
    // The load has its own total; the warm-up and the run share one bar (the run's total time).
    if (newPhase && this.phase === 'load') this.stream.write('\n');
    this.phase = progress.phase;
    this.drawnAtMs = now;
    this.stream.write(`\r${renderProgress(progress)}\x1b[K`);
  }

  /** Ends the line the bar is on (nothing when it drew nothing). */
  finish(): void {
    if (this.phase === undefined) return;
    this.stream.write('\n');
    this.phase = undefined;
    this.drawnAtMs = -Infinity;
  }
}

/** One line of progress: phase, bar, percentage, rate, and time or operations done of the total. */
export function renderProgress(progress: Progress): string {
  const done = fraction(progress);
  const filled = Math.round(Math.min(1, done) * barWidth);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}]`;
  const percent = `${String(Math.floor(Math.min(1, done) * 100)).padStart(3)}%`;
  const parts = [progress.phase.padEnd(7), bar, percent, `${compact(progress.opsPerSec)} ops/s`];
  if (progress.total !== undefined) parts.push(`${compact(progress.done)}/${compact(progress.total)} ops`);
  const elapsed = seconds(progress.elapsedMs);
  parts.push(progress.totalMs === undefined ? elapsed : `${elapsed}/${seconds(progress.totalMs)}`);
  return parts.join(' ');
}

/** How far along the phase is, 0..1: by operations when it has a total, else by time. */
function fraction(progress: Progress): number {
  if (progress.total !== undefined) return progress.total > 0 ? progress.done / progress.total : 1;
  if (progress.totalMs !== undefined) return progress.totalMs > 0 ? progress.elapsedMs / progress.totalMs : 1;
  return 0;
}

/** 950, 12.3k, 1.25M. */
export function compact(value: number): string {
  if (value < 1_000) return String(Math.round(value));
  if (value < 1_000_000) return `${(value / 1_000).toFixed(value < 10_000 ? 2 : 1)}k`;
  return `${(value / 1_000_000).toFixed(2)}M`;
}

/** 5.1s, 12s, 2m05s. */
function seconds(ms: number): string {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)}s`;
  if (s < 60) return `${Math.round(s)}s`;
  const whole = Math.round(s);
  return `${Math.floor(whole / 60)}m${String(whole % 60).padStart(2, '0')}s`;
}
