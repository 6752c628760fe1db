// Half messages with check-back (docs/half-messages.md): the broker's side. Producers write half
// messages to `__sluice_half` and decisions to `__sluice_half_op`; this service reads both, moves
// committed messages into their target topic exactly once, sends check requests to
// `__sluice_check.<group>` for messages left undecided, and abandons them after the last check.
//
// Everything it knows is in the two topics, so memory holds only what a replay would rebuild
// (pending.ts, which also has the table of how each op record changes a half message).
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
// One pass (`pass`) reads what is new in the channel (channel-reader.ts), then acts on what is due.
// Passes run one at a time, started by appends to the channel partitions (append waiters), after the
// broker's own writes, and by a short timer that catches due checks and retries.
//
// The copy in `__sluice_half_abandoned` is appended before the `abandoned` op: a crash in between
// leaves the message pending, and it is abandoned (and copied) again — readers may see an id twice.
// A commit that reaches the log just before the broker's `abandoned` op wins; the copy already in
// `__sluice_half_abandoned` is then stale (logged).
//
// Files: service.ts (the loop, and acting: checks, moves, abandonments), channel-reader.ts (reading),
// pending.ts (the half messages held), records.ts (the channel's records), settings.ts, dependencies.ts
// (what the service is given: it sees the broker only through them).
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import { encodeRecordBatchSync, type RecordToEncode } from '../../protocol/record-batch/record-encoder.js';
import { systemClock, systemTimers, type Clock, type ServiceTime, type Timer } from '../services.js';
import type { AppendWaiter, InternalPartitions, Logger } from '../services.js';
import { isInternalTopic } from '../topic-names.js';
import { ChannelReader } from './channel-reader.js';
import type { HalfMessageDependencies } from './dependencies.js';
import { PendingHalves, type PendingHalf } from './pending.js';
import {
  abandonedRecord,
  checkRecord,
  checkTopicOf,
  encodeOp,
  HALF_ABANDONED_TOPIC,
  HALF_OP_TOPIC,
  HALF_TOPIC,
  targetRecord,
  type Op,
} from './records.js';
import type { HalfMessageSettings } from './settings.js';

export type { HalfMessageDependencies } from './dependencies.js';
export { halfMessageSettingsFrom, waitAfterCheckMs, type HalfMessageSettings } from './settings.js';

/** The fallback timer: due checks and retries after a failure start a pass at most this late. Appends
 *  to the channel wake the service at once, so a commit does not wait for it. */
export const HALF_POLL_INTERVAL_MS = 100;
/** After a failed step (an append refused, a disk error), the same half message is retried this much
 *  later: soon enough for a passing problem, without a log line per message every poll. */
const RETRY_DELAY_MS = 1000;
/** Half messages acted on at once: their appends share fsyncs (group commit) without a burst of
 *  100 000 due checks becoming 200 000 concurrent promises. */
const ACTIONS_IN_FLIGHT_MAX = 64;
/** Retention of the channel topics, as the doc promises (7 days), whatever `log.retention.ms` says. */
const CHANNEL_RETENTION_MS = String(7 * 24 * 60 * 60 * 1000);

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

/** Creates the channel topics if needed; resolves with the channel partitions served. */
async function createChannel(
  partitions: InternalPartitions,
  settings: HalfMessageSettings,
  logger: Logger,
): Promise<number> {
  const configs = { 'cleanup.policy': 'delete', 'retention.ms': CHANNEL_RETENTION_MS };
  for (const [topic, count] of [
    [HALF_TOPIC, settings.logPartitions],
    [HALF_OP_TOPIC, partitions.partitionCount(HALF_TOPIC) ?? settings.logPartitions],
    [HALF_ABANDONED_TOPIC, 1],
  ] as const) {
    if (partitions.partitionCount(topic) !== null) continue;
    const created = await partitions.createTopic(topic, count, configs);
    if (created.errorCode !== ErrorCode.NONE)
      throw new Error(`cannot create ${topic}: ${created.errorMessage ?? created.errorCode}`);
    logger.info({ component: 'half-messages', topic, partitions: count }, 'half message topic created');
  }
  const halves = partitions.partitionCount(HALF_TOPIC)!;
  const ops = partitions.partitionCount(HALF_OP_TOPIC)!;
  if (halves !== ops) {
    logger.error(
      { component: 'half-messages', halves, ops },
      `${HALF_TOPIC} and ${HALF_OP_TOPIC} differ in partitions; only the first ${Math.min(halves, ops)} are served`,
    );
  }
  return Math.min(halves, ops);
}

export class HalfMessageService {
  private readonly pending: PendingHalves;
  private readonly reader: ChannelReader;
  private readonly creatingCheckTopics = new Map<string, Promise<void>>();
  private readonly waiter: AppendWaiter = { wake: () => this.schedule() };
  private timer: Timer | null = null;
  private running: Promise<void> | null = null;
  private passWanted = false;
  private closed = false;

  private constructor(
    private readonly dependencies: HalfMessageDependencies,
    readonly settings: HalfMessageSettings,
    partitionCount: number,
    private readonly clock: Clock,
  ) {
    this.pending = new PendingHalves(settings, dependencies.logger);
    this.reader = new ChannelReader(
      dependencies.partitions,
      this.pending,
      settings,
      dependencies.logger,
      clock,
      partitionCount,
    );
  }

  /** Creates the channel topics if needed, rebuilds the pending messages from them, finishes what a
   *  crash interrupted, and starts the loop. */
  static async open(dependencies: HalfMessageDependencies, time: ServiceTime = {}): Promise<HalfMessageService> {
    const { logger, partitions, appends } = dependencies;
    const settings = dependencies.halfMessageSettings;
    const partitionCount = await createChannel(partitions, settings, logger);
    const service = new HalfMessageService(dependencies, settings, partitionCount, time.clock ?? systemClock);
    await service.pass();
    for (let p = 0; p < partitionCount; p++) {
      appends.addWaiter(HALF_TOPIC, p, service.waiter);
      appends.addWaiter(HALF_OP_TOPIC, p, service.waiter);
    }
    service.timer = (time.timers ?? systemTimers).every(HALF_POLL_INTERVAL_MS, () => service.tick());
    logger.info(
      { component: 'half-messages', partitions: partitionCount, pending: service.pending.size },
      'half messages loaded',
    );
    return service;
  }

  /** Stops the timer and the waiters, and waits for the pass in progress. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.timer?.cancel();
    for (let p = 0; p < this.reader.partitionCount; p++) {
      this.dependencies.appends.removeWaiter(HALF_TOPIC, p, this.waiter);
      this.dependencies.appends.removeWaiter(HALF_OP_TOPIC, p, this.waiter);
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

  private get logger(): Logger {
    return this.dependencies.logger;
  }

  // ── the loop ──────────────────────────────────────────────────────────────────────────────

  private tick(): void {
    if (this.pending.anyDue(this.clock.now()) || this.reader.advanced()) this.schedule();
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
    for (let p = 0; p < this.reader.partitionCount; p++) {
      try {
        await this.reader.readPartition(p);
      } catch (error) {
        this.logger.error(
          { component: 'half-messages', partition: p, error: String(error) },
          'reading the half message channel failed; retrying',
        );
      }
    }
    try {
      await this.act();
    } catch (error) {
      this.logger.error({ component: 'half-messages', error: String(error) }, 'half message pass failed; retrying');
    }
  }

  // ── acting ────────────────────────────────────────────────────────────────────────────────

  private async act(): Promise<void> {
    const due = this.pending.takeDue(this.clock.now());
    await forEachLimited(due, ACTIONS_IN_FLIGHT_MAX, (entry) => this.actOn(entry));
  }

  private async actOn(entry: PendingHalf): Promise<void> {
    if (!this.pending.holds(entry)) return;
    try {
      // A committed message has an abandon reason only when its move failed for good (after `moving`).
      if (entry.abandonReason !== null) await this.abandon(entry);
      else if (entry.decision === 'committed') await this.move(entry);
      else {
        if (entry.checkRequestOwed > 0) await this.sendCheckRequest(entry);
        if (entry.dueAtMs <= this.clock.now()) {
          if (entry.checks >= this.settings.checkMax) {
            entry.abandonReason = `no decision after ${entry.checks} checks`;
            await this.abandon(entry);
          } else {
            await this.check(entry);
          }
        }
      }
      if (entry.decision === 'undecided' && entry.abandonReason === null && entry.checkRequestOwed === 0)
        this.pending.settle(entry);
    } catch (error) {
      // Left (or put) in `urgent`: the next pass retries.
      if (this.pending.holds(entry)) this.pending.markUrgent(entry);
      entry.retryAtMs = this.clock.now() + RETRY_DELAY_MS;
      this.logger.warn(
        { component: 'half-messages', id: entry.id, error: String(error) },
        'half message step failed; retrying',
      );
    }
  }

  /** Check n: the `check` op first (durable), then the request. */
  private async check(entry: PendingHalf): Promise<void> {
    const attempt = entry.checks + 1;
    await this.appendOp(entry, { op: 'check', attempt });
    this.pending.noteCheck(entry, attempt, this.clock.now());
    entry.checkRequestOwed = attempt;
    this.pending.markUrgent(entry); // until the request is written
    await this.sendCheckRequest(entry);
  }

  private async sendCheckRequest(entry: PendingHalf): Promise<void> {
    const target = entry.target!;
    const half = await this.reader.readHalf(entry);
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
    if (this.dependencies.partitions.partition(topic, 0)) return Promise.resolve();
    let creating = this.creatingCheckTopics.get(topic);
    if (creating === undefined) {
      creating = (async () => {
        try {
          const created = await this.dependencies.partitions.createTopic(topic, 1, {});
          if (created.errorCode === ErrorCode.NONE)
            this.logger.info({ component: 'half-messages', topic }, 'check topic created');
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
    const log = isInternalTopic(target.topic)
      ? undefined
      : this.dependencies.partitions.partition(target.topic, target.partition);
    if (entry.movingFrom === null) {
      const from = log?.logEndOffset ?? 0;
      await this.appendOp(entry, { op: 'moving', offset: from });
      entry.movingFrom = from;
    }
    if (!log) return this.giveUpMove(entry, `target ${target.topic}-${target.partition} does not exist`);
    if (entry.scanBeforeAppend) {
      const found = await this.reader.findInTarget(log, entry.movingFrom, entry.id);
      if (found !== null) return this.finishMove(entry, found);
    }
    const half = await this.reader.readHalf(entry);
    if (half === null) return this.giveUpMove(entry, `half message no longer in ${HALF_TOPIC} (retention)`);
    entry.scanBeforeAppend = true; // from here on, a retry must look first
    const produced = await this.dependencies.producer.produce(
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
    this.pending.forget(entry);
  }

  private async giveUpMove(entry: PendingHalf, reason: string): Promise<void> {
    entry.abandonReason = reason;
    await this.abandon(entry);
  }

  /** Copy to `__sluice_half_abandoned`, then the `abandoned` op; applied when the op is read back. */
  private async abandon(entry: PendingHalf): Promise<void> {
    const reason = entry.abandonReason!;
    if (!entry.abandonCopied) {
      const half = await this.reader.readHalf(entry);
      if (half !== null)
        await this.appendInternal(HALF_ABANDONED_TOPIC, 0, abandonedRecord(half, entry.id, entry.checks, reason));
      entry.abandonCopied = true;
    }
    if (!entry.abandonWritten) {
      await this.appendOp(entry, { op: 'abandoned', reason });
      entry.abandonWritten = true;
      const target = entry.target;
      this.logger.warn(
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

  // ── writing records ───────────────────────────────────────────────────────────────────────

  private appendOp(entry: PendingHalf, op: Op): Promise<number> {
    return this.appendInternal(HALF_OP_TOPIC, entry.partition, {
      key: Buffer.from(entry.id, 'utf8'),
      value: encodeOp(op),
    });
  }

  /** Appends one record to an internal partition; resolves with its offset once durable. A record without
   *  its own timestamp (an op) gets the service's clock: a `check` op read back dates the next check. */
  private async appendInternal(topic: string, partition: number, record: RecordToEncode): Promise<number> {
    const batch = encodeRecordBatchSync({ records: [record], timestamp: this.clock.now() });
    return this.dependencies.partitions.append(topic, partition, batch);
  }
}
