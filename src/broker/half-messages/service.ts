// Half messages with check-back (docs/half-messages.md): the broker's side. Producers write half
// messages to `__sluice_half` and decisions to `__sluice_half_op`; this service reads both, moves
// committed messages into their target topic exactly once, sends check requests to
// `__sluice_check.<group>` for messages left undecided, and abandons them after the last check.
//
// Everything it knows is in the two topics, so memory holds only what a replay would rebuild: for
// each undecided half message its id, target, decision and check count — never its bytes, which are
// read back from `__sluice_half` when needed. The state of one half message, by op record in log order
// ("first decision wins"):
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
//
// The broker's own ops (check, moving, moved) are applied when written and again, harmlessly, when
// read back; `abandoned` is only applied when read back, since a producer's commit may precede it in
// the log. Recovering a commit interrupted by a crash:
//
//   | ops at open                | T from `moving.offset` has the half id | action                   |
//   |----------------------------|----------------------------------------|--------------------------|
//   | commit                     | —                                      | moving, append, moved    |
//   | commit, moving x           | yes, at y                              | moved y                  |
//   | commit, moving x           | no                                     | append, moved            |
//   | commit, moving x, moved y  | —                                      | nothing (gone)           |
//
// One pass (`pass`) reads, for each partition p, the op records up to the op partition's high
// watermark taken *before* the half partition's, reading half messages as far as an op needs them:
// a producer writes a decision only after its half message was acknowledged, so every genuine op
// names a half message below that high watermark and is never applied before its half message is
// known. Ops naming a later offset, another partition, or nothing readable are ignored. Then it acts
// on what is due. Passes run one at a time, started by appends to the channel partitions (fetch
// waiters), after the broker's own writes, and by a short timer that catches due checks and retries.
//
// The copy in `__sluice_half_abandoned` is appended before the `abandoned` op: a crash in between
// leaves the message pending, and it is abandoned (and copied) again — readers may see an id twice.
// A commit that reaches the log just before the broker's `abandoned` op wins; the copy already in
// `__sluice_half_abandoned` is then stale (logged).
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import {
  decodeRecordBatches,
  encodeRecordBatchSync,
  type DecodedRecord,
  type RecordToEncode,
} from '../../protocol/record-batch/records.js';
import type { PartitionLog } from '../../storage/log.js';
import type { Logger } from '../logger.js';
import type { FetchWaiter } from '../partition-set.js';
import { readableBatches, type UnreadableBatch } from './channel-batches.js';
import { DueQueue } from './due-queue.js';
import { isInternalTopic } from '../topic-names.js';
import {
  abandonedRecord,
  checkRecord,
  checkTopicOf,
  encodeOp,
  formatHalfId,
  HALF_ABANDONED_TOPIC,
  HALF_OP_TOPIC,
  HALF_TOPIC,
  halfIdOf,
  halfTargetOf,
  parseHalfId,
  parseOp,
  targetRecord,
  type HalfTarget,
  type Op,
} from './records.js';

/** The fallback timer: due checks and retries after a failure start a pass at most this late. Appends
 *  to the channel wake the service at once, so a commit does not wait for it. */
export const HALF_POLL_INTERVAL_MS = 100;
/** After a failed step (an append refused, a disk error), the same half message is retried this much
 *  later: soon enough for a passing problem, without a log line per message every poll. */
const RETRY_DELAY_MS = 1000;
/** Bytes read per step from a channel partition or a target; a larger batch still comes back whole. */
const READ_BYTES = 1024 * 1024;
/** Decoded `__sluice_half` batches kept for reading half messages back (a batch is ≤ message.max.bytes). */
const RECENT_HALF_BATCHES = 8;
/** Half messages acted on at once: their appends share fsyncs (group commit) without a burst of
 *  100 000 due checks becoming 200 000 concurrent promises. */
const ACTIONS_IN_FLIGHT_MAX = 64;
/** Retention of the channel topics, as the doc promises (7 days), whatever `log.retention.ms` says. */
const CHANNEL_RETENTION_MS = String(7 * 24 * 60 * 60 * 1000);

export interface HalfMessageSettings {
  checkDelayMs: number;
  checkMax: number;
  checkBackoffMaxMs: number;
  logPartitions: number;
  pendingMax: number;
}

/** What the service needs from the broker (Broker provides it). */
export interface HalfMessageHost {
  readonly config: {
    transactionCheckDelayMs: number;
    transactionCheckMax: number;
    transactionCheckBackoffMaxMs: number;
    halfLogPartitions: number;
    halfPendingMax: number;
  };
  readonly logger: Logger;
  readonly topics: { get(name: string): { partitions: number } | undefined };
  readonly partitions: {
    get(topic: string, partition: number): PartitionLog | undefined;
    wake(topic: string, partition: number): void;
    addWaiter(topic: string, partition: number, waiter: FetchWaiter): void;
    removeWaiter(topic: string, partition: number, waiter: FetchWaiter): void;
  };
  createTopic(
    name: string,
    partitions: number,
    configs: Record<string, string>,
  ): Promise<{ errorCode: number; errorMessage: string | null }>;
  /** Appends a batch to a client topic as a produce would; resolves when durable. */
  produce(
    topic: string,
    partition: number,
    batch: Buffer,
  ): Promise<{ errorCode: number; errorMessage: string | null; baseOffset: number }>;
}

interface PendingHalf {
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

/** Errors of a produce into T that retrying cannot fix: the commit is abandoned. */
const PERMANENT_PRODUCE_ERRORS: ReadonlySet<number> = new Set([
  ErrorCode.UNKNOWN_TOPIC_OR_PARTITION,
  ErrorCode.INVALID_TOPIC_EXCEPTION,
  ErrorCode.MESSAGE_TOO_LARGE,
  ErrorCode.RECORD_LIST_TOO_LARGE,
  ErrorCode.CORRUPT_MESSAGE,
  ErrorCode.INVALID_RECORD,
  ErrorCode.INVALID_TIMESTAMP,
]);

export function halfMessageSettingsFrom(config: HalfMessageHost['config']): HalfMessageSettings {
  return {
    checkDelayMs: config.transactionCheckDelayMs,
    checkMax: config.transactionCheckMax,
    checkBackoffMaxMs: config.transactionCheckBackoffMaxMs,
    logPartitions: config.halfLogPartitions,
    pendingMax: config.halfPendingMax,
  };
}

/** The wait after check `attempt` (1-based): min(delay × 2^(attempt−1), backoff max). */
export function waitAfterCheckMs(settings: HalfMessageSettings, attempt: number): number {
  const exponent = Math.min(attempt - 1, 52);
  return Math.min(settings.checkDelayMs * 2 ** exponent, settings.checkBackoffMaxMs);
}

/** Runs `action` over `items`, at most `limit` at a time. */
async function forEachLimited<T>(
  items: readonly T[],
  limit: number,
  action: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await action(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

export class HalfMessageService {
  private readonly pending = new Map<string, PendingHalf>();
  /** Pending messages with something to do now (a commit to move, an abandonment, an owed request). */
  private readonly urgent = new Set<PendingHalf>();
  /** Undecided messages by when their next check (or abandonment) is due. */
  private readonly dueQueue = new DueQueue<PendingHalf>();
  private halfReadOffsets: number[] = [];
  private opReadOffsets: number[] = [];
  private partitionCount = 0;
  private readonly recentHalfBatches: Array<{
    partition: number;
    baseOffset: number;
    lastOffset: number;
    records: DecodedRecord[];
  }> = [];
  private readonly creatingCheckTopics = new Map<string, Promise<void>>();
  private readonly waiter: FetchWaiter = { wake: () => this.schedule() };
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private passWanted = false;
  private closed = false;
  private lastOverLimitWarningMs = 0;

  private constructor(
    private readonly host: HalfMessageHost,
    readonly settings: HalfMessageSettings,
  ) {}

  /** Creates the channel topics if needed, rebuilds the pending messages from them, finishes what a
   *  crash interrupted, and starts the loop. */
  static async open(host: HalfMessageHost): Promise<HalfMessageService> {
    const service = new HalfMessageService(host, halfMessageSettingsFrom(host.config));
    await service.createChannel();
    await service.pass();
    for (let p = 0; p < service.partitionCount; p++) {
      host.partitions.addWaiter(HALF_TOPIC, p, service.waiter);
      host.partitions.addWaiter(HALF_OP_TOPIC, p, service.waiter);
    }
    service.timer = setInterval(() => service.tick(), HALF_POLL_INTERVAL_MS);
    service.timer.unref();
    host.logger.info(
      { component: 'half-messages', partitions: service.partitionCount, pending: service.pending.size },
      'half messages loaded',
    );
    return service;
  }

  /** Stops the timer and the waiters, and waits for the pass in progress. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    for (let p = 0; p < this.partitionCount; p++) {
      this.host.partitions.removeWaiter(HALF_TOPIC, p, this.waiter);
      this.host.partitions.removeWaiter(HALF_OP_TOPIC, p, this.waiter);
    }
    await this.running;
  }

  /** Undecided (or committed, not yet moved) half messages held in memory. */
  get pendingCount(): number {
    return this.pending.size;
  }

  /** Checks sent for a pending half message, or undefined when it is not pending. */
  checksOf(id: string): number | undefined {
    return this.pending.get(id)?.checks;
  }

  private async createChannel(): Promise<void> {
    const configs = { 'cleanup.policy': 'delete', 'retention.ms': CHANNEL_RETENTION_MS };
    for (const [topic, partitions] of [
      [HALF_TOPIC, this.settings.logPartitions],
      [HALF_OP_TOPIC, this.host.topics.get(HALF_TOPIC)?.partitions ?? this.settings.logPartitions],
      [HALF_ABANDONED_TOPIC, 1],
    ] as const) {
      if (this.host.topics.get(topic)) continue;
      const created = await this.host.createTopic(topic, partitions, configs);
      if (created.errorCode !== ErrorCode.NONE)
        throw new Error(`cannot create ${topic}: ${created.errorMessage ?? created.errorCode}`);
      this.host.logger.info({ component: 'half-messages', topic, partitions }, 'half message topic created');
    }
    const halves = this.host.topics.get(HALF_TOPIC)!.partitions;
    const ops = this.host.topics.get(HALF_OP_TOPIC)!.partitions;
    if (halves !== ops) {
      this.host.logger.error(
        { component: 'half-messages', halves, ops },
        `${HALF_TOPIC} and ${HALF_OP_TOPIC} differ in partitions; only the first ${Math.min(halves, ops)} are served`,
      );
    }
    this.partitionCount = Math.min(halves, ops);
    this.halfReadOffsets = Array.from({ length: this.partitionCount }, () => 0);
    this.opReadOffsets = Array.from({ length: this.partitionCount }, () => 0);
  }

  // ── the loop ──────────────────────────────────────────────────────────────────────────────

  private tick(): void {
    if (this.urgent.size > 0 || Date.now() >= this.dueQueue.nextAtMs || this.channelAdvanced()) this.schedule();
  }

  private channelAdvanced(): boolean {
    for (let p = 0; p < this.partitionCount; p++) {
      const half = this.host.partitions.get(HALF_TOPIC, p);
      const op = this.host.partitions.get(HALF_OP_TOPIC, p);
      if ((half && half.highWatermark > this.halfReadOffsets[p]!) || (op && op.highWatermark > this.opReadOffsets[p]!))
        return true;
    }
    return false;
  }

  /** Starts a pass, or another one after the pass in progress. */
  private schedule(): void {
    if (this.closed) return;
    this.passWanted = true;
    if (this.running !== null) return;
    this.running = (async () => {
      await Promise.resolve(); // `running` is set before the loop can end
      try {
        while (this.passWanted && !this.closed) {
          this.passWanted = false;
          await this.pass();
        }
      } finally {
        this.running = null;
      }
    })();
  }

  /** Reads what is new in the channel, then acts on what is due. Never throws: failures are logged
   *  and retried on a later pass. */
  private async pass(): Promise<void> {
    for (let p = 0; p < this.partitionCount; p++) {
      try {
        await this.readPartition(p);
      } catch (error) {
        this.host.logger.error(
          { component: 'half-messages', partition: p, error: String(error) },
          'reading the half message channel failed; retrying',
        );
      }
    }
    try {
      await this.act();
    } catch (error) {
      this.host.logger.error(
        { component: 'half-messages', error: String(error) },
        'half message pass failed; retrying',
      );
    }
  }

  // ── reading the channel ───────────────────────────────────────────────────────────────────

  private async readPartition(p: number): Promise<void> {
    const opLog = this.host.partitions.get(HALF_OP_TOPIC, p);
    const halfLog = this.host.partitions.get(HALF_TOPIC, p);
    if (!opLog || !halfLog) return;
    const opEnd = opLog.highWatermark; // before the half partition's: see the top of the file
    const halfEnd = halfLog.highWatermark;
    this.opReadOffsets[p] = Math.max(this.opReadOffsets[p]!, opLog.logStartOffset);
    while (this.opReadOffsets[p]! < opEnd) {
      const read = await opLog.read(this.opReadOffsets[p]!, READ_BYTES, { maxOffset: opEnd });
      if (read.records.length === 0) break;
      for (const batch of await readableBatches(read.records, (bad) => this.skipUnreadable(HALF_OP_TOPIC, p, bad))) {
        if (batch.isControl) continue;
        for (const record of batch.records) {
          if (record.offset < this.opReadOffsets[p]! || record.offset >= opEnd) continue;
          const id = parseHalfId(record.key);
          if (id !== null && id.partition === p && id.offset < halfEnd) {
            if (id.offset >= this.halfReadOffsets[p]!) await this.readHalves(p, halfLog, id.offset + 1, halfEnd);
            // Never apply (and so lose) a decision before its half message is known: stop here, retry later.
            if (id.offset >= this.halfReadOffsets[p]!)
              throw new Error(`${HALF_TOPIC}-${p} could not be read up to offset ${id.offset}`);
            this.applyOp(formatHalfId(p, id.offset), parseOp(record.value), record.timestamp);
          }
          this.opReadOffsets[p] = record.offset + 1;
        }
      }
      this.opReadOffsets[p] = Math.max(this.opReadOffsets[p]!, Math.min(read.nextOffset, opEnd));
    }
    await this.readHalves(p, halfLog, halfEnd, halfEnd);
  }

  /** Reads half messages of partition p until at least `until` (whole read steps, never past `end`). */
  private async readHalves(p: number, log: PartitionLog, until: number, end: number): Promise<void> {
    this.halfReadOffsets[p] = Math.max(this.halfReadOffsets[p]!, log.logStartOffset);
    while (this.halfReadOffsets[p]! < until) {
      const read = await log.read(this.halfReadOffsets[p]!, READ_BYTES, { maxOffset: end });
      if (read.records.length === 0) break;
      for (const batch of await readableBatches(read.records, (bad) => this.skipUnreadable(HALF_TOPIC, p, bad))) {
        if (batch.isControl) continue;
        for (const record of batch.records) {
          if (record.offset < this.halfReadOffsets[p]! || record.offset >= end) continue;
          this.addHalf(p, record);
          this.halfReadOffsets[p] = record.offset + 1;
        }
      }
      this.halfReadOffsets[p] = Math.max(this.halfReadOffsets[p]!, Math.min(read.nextOffset, end));
    }
  }

  private skipUnreadable(topic: string, p: number, batch: UnreadableBatch): void {
    this.host.logger.warn(
      { component: 'half-messages', topic, partition: p, ...batch },
      'unreadable batch in the half message channel skipped',
    );
  }

  private addHalf(p: number, record: DecodedRecord): void {
    const id = formatHalfId(p, record.offset);
    const found = halfTargetOf(record.headers);
    const target = 'problem' in found ? null : found;
    const entry: PendingHalf = {
      id,
      partition: p,
      offset: record.offset,
      target,
      decision: 'undecided',
      checks: 0,
      dueAtMs: Date.now() + this.settings.checkDelayMs,
      checkRequestOwed: 0,
      movingFrom: null,
      scanBeforeAppend: false,
      abandonReason: 'problem' in found ? found.problem : this.targetProblem(found),
      abandonCopied: false,
      abandonWritten: false,
      retryAtMs: 0,
    };
    if (entry.abandonReason === null && this.pending.size >= this.settings.pendingMax) {
      entry.abandonReason = `too many pending half messages (sluice.half.pending.max=${this.settings.pendingMax})`;
      if (Date.now() - this.lastOverLimitWarningMs > 10_000) {
        this.lastOverLimitWarningMs = Date.now();
        this.host.logger.warn(
          { component: 'half-messages', pending: this.pending.size, limit: this.settings.pendingMax },
          'too many pending half messages: new ones are abandoned at once',
        );
      }
    }
    this.pending.set(id, entry);
    if (entry.abandonReason !== null) this.urgent.add(entry);
    else this.dueQueue.push(entry.dueAtMs, entry);
  }

  /** Why a well-formed target cannot take the message now, or null. */
  private targetProblem(target: HalfTarget): string | null {
    if (isInternalTopic(target.topic)) return `target topic ${target.topic} is internal`;
    const topic = this.host.topics.get(target.topic);
    if (!topic) return `target topic ${target.topic} does not exist`;
    if (target.partition >= topic.partitions)
      return `target partition ${target.partition} does not exist (${target.topic} has ${topic.partitions})`;
    return null;
  }

  private applyOp(id: string, op: Op | null, timestampMs: number): void {
    const entry = this.pending.get(id);
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
          this.host.logger.warn(
            { component: 'half-messages', id },
            `a commit came before the broker abandoned this half message: it is committed; its copy in ${HALF_ABANDONED_TOPIC} is stale`,
          );
        }
        return;
    }
  }

  private noteCheck(entry: PendingHalf, attempt: number, atMs: number): void {
    if (attempt < entry.checks) return;
    entry.checks = attempt;
    entry.dueAtMs = atMs + waitAfterCheckMs(this.settings, attempt);
    this.dueQueue.push(entry.dueAtMs, entry);
  }

  private forget(entry: PendingHalf): void {
    this.pending.delete(entry.id);
    this.urgent.delete(entry);
  }

  // ── acting ────────────────────────────────────────────────────────────────────────────────

  private async act(): Promise<void> {
    const now = Date.now();
    const due = new Set([...this.urgent].filter((entry) => entry.retryAtMs <= now));
    // A failed check stays in `urgent` (retried from there); a queue entry is current while the
    // message is undecided and its due time has not moved since.
    const isCurrent = (entry: PendingHalf, atMs: number) =>
      this.pending.get(entry.id) === entry &&
      entry.decision === 'undecided' &&
      entry.abandonReason === null &&
      entry.dueAtMs === atMs;
    for (const entry of this.dueQueue.takeDue(now, isCurrent)) due.add(entry);
    await forEachLimited([...due], ACTIONS_IN_FLIGHT_MAX, (entry) => this.actOn(entry));
  }

  private async actOn(entry: PendingHalf): Promise<void> {
    if (this.pending.get(entry.id) !== entry) return;
    try {
      // A committed message has an abandon reason only when its move failed for good (after `moving`).
      if (entry.abandonReason !== null) await this.abandon(entry);
      else if (entry.decision === 'committed') await this.move(entry);
      else {
        if (entry.checkRequestOwed > 0) await this.sendCheckRequest(entry);
        if (entry.dueAtMs <= Date.now()) {
          if (entry.checks >= this.settings.checkMax) {
            entry.abandonReason = `no decision after ${entry.checks} checks`;
            await this.abandon(entry);
          } else {
            await this.check(entry);
          }
        }
      }
      if (entry.decision === 'undecided' && entry.abandonReason === null && entry.checkRequestOwed === 0)
        this.urgent.delete(entry);
    } catch (error) {
      // Left (or put) in `urgent`: the next pass retries.
      if (this.pending.get(entry.id) === entry) this.urgent.add(entry);
      entry.retryAtMs = Date.now() + RETRY_DELAY_MS;
      this.host.logger.warn(
        { component: 'half-messages', id: entry.id, error: String(error) },
        'half message step failed; retrying',
      );
    }
  }

  /** Check n: the `check` op first (durable), then the request. */
  private async check(entry: PendingHalf): Promise<void> {
    const attempt = entry.checks + 1;
    await this.appendOp(entry, { op: 'check', attempt });
    this.noteCheck(entry, attempt, Date.now());
    entry.checkRequestOwed = attempt;
    this.urgent.add(entry); // until the request is written
    await this.sendCheckRequest(entry);
  }

  private async sendCheckRequest(entry: PendingHalf): Promise<void> {
    const target = entry.target!;
    const half = await this.readHalf(entry);
    if (half === null) {
      entry.checkRequestOwed = 0;
      entry.abandonReason = `half message no longer in ${HALF_TOPIC} (retention)`;
      return;
    }
    const topic = checkTopicOf(target.group);
    await this.ensureCheckTopic(topic);
    await this.appendInternal(topic, 0, checkRecord(half, entry.id, entry.checkRequestOwed));
    entry.checkRequestOwed = 0;
  }

  private ensureCheckTopic(topic: string): Promise<void> {
    if (this.host.partitions.get(topic, 0)) return Promise.resolve();
    let creating = this.creatingCheckTopics.get(topic);
    if (creating === undefined) {
      creating = (async () => {
        try {
          const created = await this.host.createTopic(topic, 1, {});
          if (created.errorCode === ErrorCode.NONE)
            this.host.logger.info({ component: 'half-messages', topic }, 'check topic created');
          else if (created.errorCode !== ErrorCode.TOPIC_ALREADY_EXISTS)
            throw new Error(`cannot create ${topic}: ${created.errorMessage ?? created.errorCode}`);
        } finally {
          this.creatingCheckTopics.delete(topic);
        }
      })();
      this.creatingCheckTopics.set(topic, creating);
    }
    return creating;
  }

  /** Moves a committed message into T exactly once (see the recovery table at the top). */
  private async move(entry: PendingHalf): Promise<void> {
    const target = entry.target!;
    const log = isInternalTopic(target.topic) ? undefined : this.host.partitions.get(target.topic, target.partition);
    if (entry.movingFrom === null) {
      const from = log?.logEndOffset ?? 0;
      await this.appendOp(entry, { op: 'moving', offset: from });
      entry.movingFrom = from;
    }
    if (!log) return this.giveUpMove(entry, `target ${target.topic}-${target.partition} does not exist`);
    if (entry.scanBeforeAppend) {
      const found = await this.findInTarget(log, entry.movingFrom, entry.id);
      if (found !== null) return this.finishMove(entry, found);
    }
    const half = await this.readHalf(entry);
    if (half === null) return this.giveUpMove(entry, `half message no longer in ${HALF_TOPIC} (retention)`);
    entry.scanBeforeAppend = true; // from here on, a retry must look first
    const produced = await this.host.produce(
      target.topic,
      target.partition,
      encodeRecordBatchSync({ records: [targetRecord(half, entry.id)] }),
    );
    if (produced.errorCode === ErrorCode.NONE) return this.finishMove(entry, produced.baseOffset);
    if (PERMANENT_PRODUCE_ERRORS.has(produced.errorCode))
      return this.giveUpMove(
        entry,
        `cannot append to ${target.topic}-${target.partition}: ${produced.errorMessage ?? produced.errorCode}`,
      );
    throw new Error(
      `append to ${target.topic}-${target.partition} failed: ${produced.errorMessage ?? produced.errorCode}`,
    );
  }

  private async finishMove(entry: PendingHalf, offset: number): Promise<void> {
    await this.appendOp(entry, { op: 'moved', offset });
    this.forget(entry);
  }

  private async giveUpMove(entry: PendingHalf, reason: string): Promise<void> {
    entry.abandonReason = reason;
    await this.abandon(entry);
  }

  /** The offset of the record carrying `id` in T at or after `from`, or null. */
  private async findInTarget(log: PartitionLog, from: number, id: string): Promise<number | null> {
    let offset = Math.max(from, log.logStartOffset);
    const end = log.highWatermark;
    // A target's batch that does not decode (a broken producer's) cannot hold the record we wrote.
    const skip = () => undefined;
    while (offset < end) {
      const read = await log.read(offset, READ_BYTES, { maxOffset: end });
      if (read.records.length === 0) break;
      for (const batch of await readableBatches(read.records, skip)) {
        if (batch.isControl) continue;
        for (const record of batch.records)
          if (record.offset >= offset && halfIdOf(record) === id) return record.offset;
      }
      if (read.nextOffset <= offset) break;
      offset = read.nextOffset;
    }
    return null;
  }

  /** Copy to `__sluice_half_abandoned`, then the `abandoned` op; applied when the op is read back. */
  private async abandon(entry: PendingHalf): Promise<void> {
    const reason = entry.abandonReason!;
    if (!entry.abandonCopied) {
      const half = await this.readHalf(entry);
      if (half !== null)
        await this.appendInternal(HALF_ABANDONED_TOPIC, 0, abandonedRecord(half, entry.id, entry.checks, reason));
      entry.abandonCopied = true;
    }
    if (!entry.abandonWritten) {
      await this.appendOp(entry, { op: 'abandoned', reason });
      entry.abandonWritten = true;
      const target = entry.target;
      this.host.logger.warn(
        {
          component: 'half-messages',
          id: entry.id,
          ...(target ? { topic: target.topic, partition: target.partition, group: target.group } : {}),
          checks: entry.checks,
          reason,
        },
        'half message abandoned',
      );
    }
  }

  // ── reading and writing records ───────────────────────────────────────────────────────────

  /** The half message's record, read back from `__sluice_half`; null when retention removed it.
   *  Producers send half messages in batches, and the messages of one batch tend to be decided
   *  together: the last few decoded batches are kept (`recentHalfBatches`). */
  private async readHalf(entry: PendingHalf): Promise<DecodedRecord | null> {
    const log = this.host.partitions.get(HALF_TOPIC, entry.partition);
    if (!log || entry.offset < log.logStartOffset) return null;
    let batch = this.recentHalfBatches.find(
      (b) => b.partition === entry.partition && b.baseOffset <= entry.offset && entry.offset <= b.lastOffset,
    );
    if (batch === undefined) {
      // One byte asked: storage returns the whole batch holding the offset, and nothing more.
      const read = await log.read(entry.offset, 1, { maxOffset: entry.offset + 1 });
      const [decoded] = await decodeRecordBatches(read.records);
      if (decoded === undefined) return null;
      batch = {
        partition: entry.partition,
        baseOffset: decoded.baseOffset,
        lastOffset: decoded.baseOffset + decoded.lastOffsetDelta,
        records: decoded.records,
      };
      this.recentHalfBatches.unshift(batch);
      if (this.recentHalfBatches.length > RECENT_HALF_BATCHES) this.recentHalfBatches.pop();
    }
    return batch.records.find((record) => record.offset === entry.offset) ?? null;
  }

  private appendOp(entry: PendingHalf, op: Op): Promise<number> {
    return this.appendInternal(HALF_OP_TOPIC, entry.partition, {
      key: Buffer.from(entry.id, 'utf8'),
      value: encodeOp(op),
    });
  }

  /** Appends one record to an internal partition; resolves with its offset once durable. */
  private async appendInternal(topic: string, partition: number, record: RecordToEncode): Promise<number> {
    const log = this.host.partitions.get(topic, partition);
    if (!log) throw new Error(`${topic}-${partition} is not open`);
    const { baseOffset } = await log.append(encodeRecordBatchSync({ records: [record] }));
    this.host.partitions.wake(topic, partition);
    return baseOffset;
  }
}
