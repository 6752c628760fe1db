// The half messages the service holds: for each undecided (or committed, not yet moved) one its id,
// target, decision and check count — never its bytes, which are read back from `__sluice_half` when
// needed — and the two ways one becomes due: `urgent` (something to do now) and the due queue (its
// next check). The state of one half message, by op record in log order ("first decision wins"):
//
//   | state                    | op read                    | becomes                                  |
//   |--------------------------|----------------------------|------------------------------------------|
//   | undecided                | commit                     | committed (a malformed message ignores it)|
//   | undecided                | rollback                   | gone (a malformed message ignores it)    |
//   | undecided                | abandoned                  | gone                                     |
//   | any                      | check n                    | n checks sent, next one due after backoff|
//   | committed                | moving x                   | committed, moving from x                 |
//   | committed, moving        | moved y / abandoned        | gone                                     |
//   | committed, not moving    | abandoned                  | unchanged: an abandonment the broker     |
//   |                          |                            | wrote before it had read the commit lost |
//   | any                      | commit / rollback / unknown| unchanged                                |
import type { Logger } from '../services.js';
import { DueQueue } from './due-queue.js';
import { HALF_ABANDONED_TOPIC, type HalfTarget, type Op } from './records.js';
import { waitAfterCheckMs, type HalfMessageSettings } from './settings.js';

export interface PendingHalf {
  readonly id: string;
  readonly partition: number;
  readonly offset: number;
  /** null: the record lacks usable sluice.half.* headers; only an `abandoned` op ends it. */
  readonly target: HalfTarget | null;
  decision: 'undecided' | 'committed';
  checks: number;
  /** When the next check (or, after the last, the abandonment) is due. */
  dueAtMs: number;
  /** A check op whose request is not in the check topic yet (0: none). */
  checkRequestOwed: number;
  /** `moving.offset`, once written. */
  movingFrom: number | null;
  /** The target may already hold the message (a `moving` read back from before this process, or an
   *  append that failed): look for it before appending. */
  scanBeforeAppend: boolean;
  /** The broker decided to abandon it; the `abandoned` op is to be written (or read back). */
  abandonReason: string | null;
  abandonCopied: boolean;
  abandonWritten: boolean;
  /** Not acted on again before this time (a step failed). */
  retryAtMs: number;
}

export class PendingHalves {
  private readonly byId = new Map<string, PendingHalf>();
  /** Pending messages with something to do now (a commit to move, an abandonment, an owed request). */
  private readonly urgent = new Set<PendingHalf>();
  /** Undecided messages by when their next check (or abandonment) is due. */
  private readonly dueQueue = new DueQueue<PendingHalf>();

  constructor(
    private readonly settings: HalfMessageSettings,
    private readonly logger: Logger,
  ) {}

  get size(): number {
    return this.byId.size;
  }

  get(id: string): PendingHalf | undefined {
    return this.byId.get(id);
  }

  /** Still the entry held for its id (not forgotten, or replaced, meanwhile). */
  holds(entry: PendingHalf): boolean {
    return this.byId.get(entry.id) === entry;
  }

  /** A half message just read: urgent when it is to be abandoned at once, else due for its first check. */
  add(entry: PendingHalf): void {
    this.byId.set(entry.id, entry);
    if (entry.abandonReason !== null) this.urgent.add(entry);
    else this.dueQueue.push(entry.dueAtMs, entry);
  }

  markUrgent(entry: PendingHalf): void {
    this.urgent.add(entry);
  }

  /** Nothing left to do for it now. */
  settle(entry: PendingHalf): void {
    this.urgent.delete(entry);
  }

  /** Whether anything is due at `nowMs`. */
  anyDue(nowMs: number): boolean {
    return this.urgent.size > 0 || nowMs >= this.dueQueue.nextAtMs;
  }

  /** The entries to act on at `nowMs`: urgent ones past their retry time, and those whose check is due. */
  takeDue(nowMs: number): PendingHalf[] {
    const due = new Set([...this.urgent].filter((entry) => entry.retryAtMs <= nowMs));
    // A failed check stays in `urgent` (retried from there); a queue entry is current while the
    // message is undecided and its due time has not moved since.
    const isCurrent = (entry: PendingHalf, atMs: number) =>
      this.holds(entry) && entry.decision === 'undecided' && entry.abandonReason === null && entry.dueAtMs === atMs;
    for (const entry of this.dueQueue.takeDue(nowMs, isCurrent)) due.add(entry);
    return [...due];
  }

  /** An op record read from `__sluice_half_op` (see the table at the top). */
  applyOp(id: string, op: Op | null, timestampMs: number): void {
    const entry = this.byId.get(id);
    if (!entry || op === null) return;
    const undecided = entry.decision === 'undecided';
    switch (op.op) {
      case 'commit':
        if (!undecided || entry.target === null) return;
        entry.decision = 'committed';
        entry.abandonReason = null;
        entry.abandonCopied = false;
        entry.abandonWritten = false;
        this.urgent.add(entry);
        return;
      case 'rollback':
        if (undecided && entry.target !== null) this.forget(entry);
        return;
      case 'unknown':
        return;
      case 'check':
        this.noteCheck(entry, op.attempt, timestampMs);
        return;
      case 'moving':
        if (!undecided && entry.movingFrom === null) {
          entry.movingFrom = op.offset;
          entry.scanBeforeAppend = true;
        }
        return;
      case 'moved':
        if (!undecided) this.forget(entry);
        return;
      case 'abandoned':
        if (undecided || entry.movingFrom !== null) {
          this.forget(entry);
        } else {
          // Only the broker writes `abandoned`, and only before a move for a committed message.
          this.logger.warn(
            { component: 'half-messages', id },
            `a commit came before the broker abandoned this half message: it is committed; ` +
              `its copy in ${HALF_ABANDONED_TOPIC} is stale`,
          );
        }
        return;
    }
  }

  /** Check `attempt` was sent at `atMs`: the next one is due after the backoff. */
  noteCheck(entry: PendingHalf, attempt: number, atMs: number): void {
    if (attempt < entry.checks) return;
    entry.checks = attempt;
    entry.dueAtMs = atMs + waitAfterCheckMs(this.settings, attempt);
    this.dueQueue.push(entry.dueAtMs, entry);
  }

  forget(entry: PendingHalf): void {
    this.byId.delete(entry.id);
    this.urgent.delete(entry);
  }
}
