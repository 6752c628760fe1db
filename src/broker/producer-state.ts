// Idempotent-producer state of one partition: per producer id, its epoch and the last five batches it
// appended, so that a retried batch is answered with its original offsets instead of being written twice,
// and a lost batch (a gap in the sequence) is refused instead of silently skipped.
//
// The rules are Kafka's (ProducerStateManager / ProducerAppendInfo / ProducerStateEntry, KIP-98 and
// KIP-360), decided on the 61-byte batch header alone. For a data batch of producer P with epoch e and
// sequences first..last (last = first + lastOffsetDelta, wrapping from 2^31-1 to 0):
//
//   | state of P                  | batch                                   | answer                          |
//   |-----------------------------|-----------------------------------------|---------------------------------|
//   | unknown                     | any sequence                            | new (see below)                 |
//   | epoch E, e < E              | any                                     | INVALID_PRODUCER_EPOCH          |
//   | epoch E, e = E              | first and last equal one of the 5 kept  | duplicate, with its offsets     |
//   | epoch E, e = E              | first = last kept + 1 (or 0 after max)  | new                             |
//   | epoch E, e = E              | anything else                           | OUT_OF_ORDER_SEQUENCE_NUMBER    |
//   | epoch E, e > E              | first = 0                               | new (the entry restarts)        |
//   | epoch E, e > E              | first ≠ 0                               | OUT_OF_ORDER_SEQUENCE_NUMBER    |
//
// Unknown producer with a sequence ≠ 0: accepted. Before KIP-360 (Kafka 2.5) the broker answered
// UNKNOWN_PRODUCER_ID here; since then ProducerAppendInfo.checkSequence accepts any sequence when it
// has no epoch on record for the producer, because the usual reason is not a broken client but lost
// state: the producer's batches were removed by retention or DeleteRecords, or its entry expired, and
// refusing would make a healthy producer fail. (The one exception in current Kafka, transactions v2
// with verification, does not apply until Sluice has transactions.) A duplicate of a batch we no longer
// remember is then written again — the same trade Kafka makes.
//
// Differences from Kafka, on purpose:
// - Idleness is measured with the broker's clock at append (`nowMs`), not with the batch's
//   maxTimestamp: a client whose CreateTime clock is a day behind would otherwise lose its state at
//   once. Batches replayed from the log on recovery count as active at recovery time (their append time
//   is not on disk), so a restart can only lengthen a producer's life, never cut it short.
// - Snapshots keep all five batches of each producer (Kafka's keep only the last), so every duplicate
//   that is detected before a restart is still detected after it.
// - The number of producers per partition is capped (MAX_PRODUCERS_PER_PARTITION, least recently used
//   dropped first); Kafka only expires by time.
//
// Snapshot file `<20-digit offset>.snapshot` in the partition directory (format: producer-snapshots.ts):
// the state after every batch below `offset`, i.e. recovery loads it and replays batch headers from
// `offset` to the log end. Written with storage's writeFileDurably (temp, fsync, rename),
// asynchronously: the state is taken when writeSnapshot is called and written off the event loop;
// snapshot writes and deletions of one partition run one after the other, in call order. The newest
// two are kept. A file whose checksum, version, offset or fields do not check out is ignored (and
// deleted) and the next older one is tried.
import { join } from 'node:path';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { BATCH_HEADER_BYTES, RecordBatchHeader } from '../protocol/record-batch/header.js';
import { invariant } from '../storage/errors.js';
import { readTextIfExists, removeFile, writeFileDurably } from '../storage/durable-files.js';
import type { PartitionLog } from '../storage/log.js';
import { silentLogger, type Logger } from './logger.js';
import {
  SnapshotFormatError,
  isInteger,
  listSnapshots,
  snapshotBody,
  snapshotContent,
  snapshotFileName,
} from './producer-snapshots.js';

export { SNAPSHOT_SUFFIX, snapshotFileName } from './producer-snapshots.js';

/** Batches remembered per producer: the Java producer's max.in.flight.requests.per.connection limit for
 *  idempotence is 5, so any batch it may still retry is among the last five it appended. */
export const BATCHES_KEPT_PER_PRODUCER = 5;

/**
 * Producers remembered per partition. Each costs about 0.5 KiB (five batch entries, the map slot), so
 * 10 000 bound a partition to ~5 MiB and its snapshot to ~1.5 MB, while still far above what healthy
 * deployments have (one id per producer instance per partition it writes). Past it, a client that
 * cycles InitProducerId (a crash loop, or an attack) would otherwise grow the broker without limit.
 * The least recently used entry goes first; losing it costs that producer only duplicate detection
 * for batches it already had acknowledged (an unknown producer is accepted with any sequence).
 */
export const MAX_PRODUCERS_PER_PARTITION = 10_000;

/** Kafka's `producer.id.expiration.ms` default (KIP-854): one day. */
export const DEFAULT_PRODUCER_ID_EXPIRATION_MS = 24 * 60 * 60 * 1000;

/** Snapshots kept per partition: the newest, and one more in case the newest turns out unreadable. */
export const SNAPSHOTS_KEPT = 2;

/** Bytes read per step when replaying the log tail; the log returns at least one whole batch anyway. */
const REPLAY_READ_BYTES = 1024 * 1024;

const MAX_SEQUENCE = 0x7fffffff;
const NO_EPOCH = -1;

/** One appended batch, as remembered for duplicate detection. */
export interface ProducerBatchMetadata {
  baseSequence: number;
  lastSequence: number;
  baseOffset: number;
  lastOffset: number;
  maxTimestamp: number;
}

export interface ProducerEntry {
  producerId: number;
  producerEpoch: number;
  /** Oldest first; at most BATCHES_KEPT_PER_PRODUCER. */
  batches: ProducerBatchMetadata[];
  /** Broker clock at the last append (or at recovery, for batches replayed from the log). */
  lastActivityMs: number;
  /** First offset of the producer's open transaction, −1 when none (kept for transactions; unused yet). */
  transactionFirstOffset: number;
}

export type ProducerCheck =
  | { kind: 'new' }
  /**
   * A retry of a batch already appended: append nothing and answer success with these offsets (Kafka
   * also answers log_append_time with the batch's maxTimestamp). The original may still be in flight:
   * under acks ≠ 0 answer only once the log has made `lastOffset` as durable as the flush policy
   * promises (Kafka's delayed produce waits for the duplicate's lastOffset the same way), and answer the
   * partition's error if the log turns read-only first.
   */
  | { kind: 'duplicate'; baseOffset: number; lastOffset: number; maxTimestamp: number }
  | { kind: 'error'; errorCode: number; message: string };

export interface ProducerStateOptions {
  /** Kafka's `producer.id.expiration.ms`: a producer idle this long is forgotten by expire(). */
  producerIdExpirationMs?: number;
  /** Overrides MAX_PRODUCERS_PER_PARTITION (tests). */
  maxProducers?: number;
  logger?: Logger;
}

export interface ProducerStateRecoveryOptions extends ProducerStateOptions {
  /** The broker clock now: replayed producers count as active at this time; expiry runs against it. */
  nowMs: number;
}

/** What recover() found and did. */
export interface ProducerStateRecoveryReport {
  /** Offset of the snapshot loaded, or null when the state was rebuilt from the log start. */
  snapshotOffset: number | null;
  /** Snapshot files set aside, each with why: corrupt, above the log end, below the log start. */
  discardedSnapshots: { name: string; reason: string }[];
  replayedFromOffset: number;
  replayedBatches: number;
  expiredProducers: number;
}

const NEW: ProducerCheck = Object.freeze({ kind: 'new' });

export class PartitionProducerState {
  readonly directory: string;
  readonly producerIdExpirationMs: number;
  readonly maxProducers: number;
  /** Set by recover(); null for a state built empty. */
  recovery: ProducerStateRecoveryReport | null = null;

  /** Insertion order is recency order: record() moves a producer to the end, eviction takes the front. */
  private readonly entries = new Map<number, ProducerEntry>();
  private mapEndOffset = 0;
  private readonly logger: Logger;
  /** The last snapshot write or deletion asked for; the next one starts after it. */
  private snapshotWork: Promise<void> = Promise.resolve();
  /** truncated() is rebuilding the state: a snapshot now would describe the state being replaced. */
  private rebuilding = false;

  /** An empty state for the partition in `directory` (a new partition). Existing ones use recover(). */
  constructor(directory: string, options: ProducerStateOptions = {}) {
    this.directory = directory;
    this.producerIdExpirationMs = options.producerIdExpirationMs ?? DEFAULT_PRODUCER_ID_EXPIRATION_MS;
    this.maxProducers = options.maxProducers ?? MAX_PRODUCERS_PER_PARTITION;
    this.logger = options.logger ?? silentLogger;
    if (!(this.producerIdExpirationMs > 0))
      throw new RangeError(`producerIdExpirationMs must be positive, got ${this.producerIdExpirationMs}`);
    if (!Number.isSafeInteger(this.maxProducers) || this.maxProducers < 1)
      throw new RangeError(`maxProducers must be a positive integer, got ${this.maxProducers}`);
  }

  // ── produce path ──────────────────────────────────────────────────────────────────────────────

  /**
   * Decides what to do with a data batch of an idempotent producer (producerId ≥ 0, baseSequence ≥ 0,
   * not a control batch — the broker's header validation rejects the rest first). Changes nothing.
   */
  check(header: RecordBatchHeader, nowMs: number): ProducerCheck {
    void nowMs; // part of the contract for transactions (timeouts); sequence checks need no clock
    const producerId = header.producerId;
    const epoch = header.producerEpoch;
    const firstSequence = header.baseSequence;
    if (producerId < 0 || firstSequence < 0 || header.isControl) {
      return {
        kind: 'error',
        errorCode: ErrorCode.INVALID_RECORD,
        message: `batch of producer ${producerId} with base sequence ${firstSequence} is not an idempotent data batch`,
      };
    }
    const entry = this.entries.get(producerId);
    // Unknown producer, or one known without an epoch: any sequence goes (KIP-360; see the file header).
    if (entry === undefined || entry.producerEpoch === NO_EPOCH) return NEW;
    if (epoch < entry.producerEpoch) {
      return {
        kind: 'error',
        errorCode: ErrorCode.INVALID_PRODUCER_EPOCH,
        message: `producer ${producerId} epoch ${epoch} is older than the current epoch ${entry.producerEpoch}`,
      };
    }
    if (epoch > entry.producerEpoch) {
      if (firstSequence === 0) return NEW;
      return {
        kind: 'error',
        errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message:
          `producer ${producerId} started epoch ${epoch} (current ${entry.producerEpoch}) ` +
          `with sequence ${firstSequence}; a new epoch starts at 0`,
      };
    }
    const lastSequence = incrementSequence(firstSequence, header.lastOffsetDelta);
    for (const batch of entry.batches) {
      if (batch.baseSequence === firstSequence && batch.lastSequence === lastSequence) {
        return {
          kind: 'duplicate',
          baseOffset: batch.baseOffset,
          lastOffset: batch.lastOffset,
          maxTimestamp: batch.maxTimestamp,
        };
      }
    }
    const last = entry.batches.length === 0 ? -1 : entry.batches[entry.batches.length - 1]!.lastSequence;
    if (isNextSequence(last, firstSequence)) return NEW;
    return {
      kind: 'error',
      errorCode: ErrorCode.OUT_OF_ORDER_SEQUENCE_NUMBER,
      message:
        `producer ${producerId} epoch ${epoch} sent sequence ${firstSequence}, ` +
        `expected ${last === MAX_SEQUENCE ? 0 : last + 1}`,
    };
  }

  /**
   * Takes an appended batch into the state. Call right after the log assigned its offsets (same tick
   * as check()), and for every batch with producerId ≥ 0 replayed from the log. Never refuses: what
   * is in the log is the truth. Control batches (transaction markers) end the producer's transaction.
   * Nothing here can be undone, so only call it for a batch the log took: check `log.readOnly` before
   * check(), since PartitionLog.append reports even synchronous refusals as a rejected promise.
   */
  record(header: RecordBatchHeader, nowMs: number): void {
    const producerId = header.producerId;
    if (producerId < 0) return;
    const epoch = header.producerEpoch;
    const baseOffset = header.baseOffset;
    const lastOffset = baseOffset + header.lastOffsetDelta;
    let entry = this.entries.get(producerId);
    if (entry === undefined) {
      entry = { producerId, producerEpoch: epoch, batches: [], lastActivityMs: nowMs, transactionFirstOffset: -1 };
    } else {
      this.entries.delete(producerId); // re-inserted below: most recently used
      if (entry.producerEpoch !== epoch) {
        // Kafka's ProducerStateEntry.maybeUpdateProducerEpoch: a new epoch forgets the old sequences.
        entry.producerEpoch = epoch;
        entry.batches = [];
      }
      entry.lastActivityMs = Math.max(entry.lastActivityMs, nowMs);
    }
    if (header.isControl) {
      entry.transactionFirstOffset = -1;
    } else {
      const baseSequence = header.baseSequence;
      entry.batches.push({
        baseSequence,
        lastSequence: incrementSequence(baseSequence, header.lastOffsetDelta),
        baseOffset,
        lastOffset,
        maxTimestamp: header.maxTimestamp,
      });
      if (entry.batches.length > BATCHES_KEPT_PER_PRODUCER) entry.batches.shift();
      if (header.isTransactional && entry.transactionFirstOffset < 0) entry.transactionFirstOffset = baseOffset;
    }
    this.entries.set(producerId, entry);
    if (lastOffset + 1 > this.mapEndOffset) this.mapEndOffset = lastOffset + 1;
    this.evictOverCap();
  }

  /** Forgets producers idle for producerIdExpirationMs or longer (not those with an open transaction).
   *  Returns how many went. */
  expire(nowMs: number): number {
    let removed = 0;
    for (const [producerId, entry] of this.entries) {
      if (entry.transactionFirstOffset < 0 && nowMs - entry.lastActivityMs >= this.producerIdExpirationMs) {
        this.entries.delete(producerId);
        removed += 1;
      }
    }
    if (removed > 0)
      this.logger.debug({ directory: this.directory, removed, remaining: this.entries.size }, 'producer ids expired');
    return removed;
  }

  private evictOverCap(): void {
    while (this.entries.size > this.maxProducers) {
      const oldest = this.entries.keys().next().value as number;
      this.entries.delete(oldest);
      this.logger.warn(
        { directory: this.directory, producerId: oldest, maxProducers: this.maxProducers },
        'producer state full: least recently used producer id dropped',
      );
    }
  }

  // ── inspection ────────────────────────────────────────────────────────────────────────────────

  get producerCount(): number {
    return this.entries.size;
  }

  /** The state of one producer; do not modify it. */
  entry(producerId: number): Readonly<ProducerEntry> | undefined {
    return this.entries.get(producerId);
  }

  /** All producers, least recently used first; do not modify them. */
  producers(): IterableIterator<Readonly<ProducerEntry>> {
    return this.entries.values();
  }

  /** One past the last offset taken into the state (Kafka's mapEndOffset): a snapshot may be written at
   *  any offset at or above it, up to the log end. */
  get endOffset(): number {
    return this.mapEndOffset;
  }

  // ── snapshots ─────────────────────────────────────────────────────────────────────────────────

  /**
   * Writes the state as of `offset` (usually the log end; every batch below it must have gone through
   * record()) durably, then keeps only the newest SNAPSHOTS_KEPT snapshots. Snapshots above `offset`
   * describe a log that no longer exists (it was truncated) and are deleted too. The state is taken
   * now (an offset below what was recorded throws at once); the file is written asynchronously and
   * fsynced, so call it at segment roll, on a timer and at shutdown, not per request. Resolves once
   * the snapshot is durable; rejects if the disk failed.
   */
  writeSnapshot(offset: number): Promise<void> {
    if (this.rebuilding) return Promise.resolve(); // the next one after the rebuild will do
    invariant(
      Number.isSafeInteger(offset) && offset >= this.mapEndOffset,
      () => `producer snapshot at ${offset} would miss batches recorded up to ${this.mapEndOffset}`,
    );
    const producers: unknown[] = [];
    for (const entry of this.entries.values()) {
      producers.push([
        entry.producerId,
        entry.producerEpoch,
        entry.lastActivityMs,
        entry.transactionFirstOffset,
        entry.batches.map((batch) => [
          batch.baseSequence,
          batch.lastSequence,
          batch.baseOffset,
          batch.lastOffset,
          batch.maxTimestamp,
        ]),
      ]);
    }
    const body = JSON.stringify({ offset, producers });
    const content = snapshotContent(body);
    this.mapEndOffset = offset;
    const directory = this.directory;
    return this.afterSnapshotWork(async () => {
      await writeFileDurably(join(directory, snapshotFileName(offset)), content);
      const existing = await listSnapshots(directory);
      const kept = existing.filter((snapshot) => snapshot.offset <= offset).slice(-SNAPSHOTS_KEPT);
      for (const snapshot of existing) {
        if (!kept.includes(snapshot)) await removeFile(join(directory, snapshot.name));
      }
      this.logger.debug({ directory, offset, producers: producers.length }, 'producer snapshot written');
    });
  }

  /** Deletes snapshots above `offset`: call when the log is truncated to `offset`, then recover() again. */
  deleteSnapshotsAbove(offset: number): Promise<void> {
    return this.afterSnapshotWork(async () => {
      for (const snapshot of await listSnapshots(this.directory)) {
        if (snapshot.offset > offset) await removeFile(join(this.directory, snapshot.name));
      }
    });
  }

  /** Offsets of the snapshots on disk, oldest first (once the snapshot work asked for so far is done). */
  snapshotOffsets(): Promise<number[]> {
    return this.afterSnapshotWork(async () => (await listSnapshots(this.directory)).map((snapshot) => snapshot.offset));
  }

  /** Runs `work` after every snapshot write and deletion asked for before it, failed ones included. */
  private afterSnapshotWork<T>(work: () => Promise<T>): Promise<T> {
    const done = this.snapshotWork.then(work);
    this.snapshotWork = done.then(
      () => undefined,
      () => undefined,
    );
    return done;
  }

  // ── recovery ──────────────────────────────────────────────────────────────────────────────────

  /**
   * Rebuilds the state of `log`'s partition: loads the newest valid snapshot within
   * [logStartOffset, logEndOffset], then replays the batch headers from there to the log end (from the
   * log start when there is no usable snapshot). Call after PartitionLog.open and before any produce.
   *
   *   | snapshot                          | what happens                                        |
   *   |-----------------------------------|-----------------------------------------------------|
   *   | offset > log end                  | deleted: it describes batches the log no longer has |
   *   | offset < log start                | deleted: batches between it and the start are gone, |
   *   |                                   | so its sequences could be stale (Kafka does too)    |
   *   | unreadable / bad checksum / bad   | deleted, the next older one is tried                |
   *   | fields                            |                                                     |
   *   | valid                             | loaded; replay from its offset                      |
   *   | none left                         | replay from the log start                           |
   */
  static async recover(log: PartitionLog, options: ProducerStateRecoveryOptions): Promise<PartitionProducerState> {
    const state = new PartitionProducerState(log.directory, options);
    const logStartOffset = log.logStartOffset;
    const logEndOffset = log.logEndOffset;
    const report: ProducerStateRecoveryReport = {
      snapshotOffset: null,
      discardedSnapshots: [],
      replayedFromOffset: logStartOffset,
      replayedBatches: 0,
      expiredProducers: 0,
    };
    const discard = (name: string, reason: string) => {
      report.discardedSnapshots.push({ name, reason });
      state.logger.warn({ directory: log.directory, snapshot: name, reason }, 'producer snapshot discarded');
      return removeFile(join(log.directory, name));
    };
    for (const snapshot of (await listSnapshots(log.directory)).reverse()) {
      if (report.snapshotOffset !== null) break;
      if (snapshot.offset > logEndOffset) {
        await discard(snapshot.name, `above the log end ${logEndOffset}`);
      } else if (snapshot.offset < logStartOffset) {
        await discard(snapshot.name, `below the log start ${logStartOffset}`);
      } else {
        try {
          const text = await readTextIfExists(join(log.directory, snapshot.name));
          if (text === null) continue; // removed meanwhile
          state.load(snapshot.offset, text);
          report.snapshotOffset = snapshot.offset;
        } catch (error) {
          if (!(error instanceof SnapshotFormatError)) throw error;
          state.entries.clear();
          await discard(snapshot.name, error.message);
        }
      }
    }
    const from = report.snapshotOffset ?? logStartOffset;
    report.replayedFromOffset = from;
    report.replayedBatches = await state.replay(log, from, report.snapshotOffset !== null, logEndOffset, options.nowMs);
    state.mapEndOffset = logEndOffset;
    report.expiredProducers = state.expire(options.nowMs);
    state.recovery = report;
    state.logger.info(
      { directory: log.directory, ...report, producers: state.entries.size },
      'producer state recovered',
    );
    return state;
  }

  /**
   * The log was cut back (a follower's divergent tail, PartitionLog.truncateTo): deletes the
   * snapshots above its new end, rebuilds the state as recover() does (the newest snapshot left plus
   * the log after it) and puts it in place of this one's at once, so callers keep this object.
   * Snapshot writes asked for meanwhile are skipped. No append may run meanwhile.
   */
  async truncated(log: PartitionLog, nowMs: number): Promise<void> {
    this.rebuilding = true;
    try {
      await this.deleteSnapshotsAbove(log.logEndOffset);
      const { producerIdExpirationMs, maxProducers, logger } = this;
      const rebuilt = await PartitionProducerState.recover(log, {
        producerIdExpirationMs,
        maxProducers,
        logger,
        nowMs,
      });
      this.entries.clear();
      for (const [producerId, entry] of rebuilt.entries) this.entries.set(producerId, entry);
      this.mapEndOffset = rebuilt.mapEndOffset;
      this.recovery = rebuilt.recovery;
    } finally {
      this.rebuilding = false;
    }
  }

  private async replay(
    log: PartitionLog,
    from: number,
    fromSnapshot: boolean,
    to: number,
    nowMs: number,
  ): Promise<number> {
    let replayed = 0;
    let offset = from;
    while (offset < to) {
      const read = await log.read(offset, REPLAY_READ_BYTES, { maxOffset: to });
      if (read.records.length === 0 || read.nextOffset <= offset) break;
      const records = read.records;
      for (let position = 0; position + BATCH_HEADER_BYTES <= records.length;) {
        const header = new RecordBatchHeader(records, position);
        position += header.totalBytes;
        if (position > records.length) break;
        // The first batch read may start below `offset` (the batch holding it). From a snapshot, such a
        // batch is already in it; from the log start, it is partly kept and counts (as in Kafka).
        if (header.producerId < 0 || (fromSnapshot ? header.baseOffset < offset : header.lastOffset < offset)) continue;
        this.record(header, nowMs);
        replayed += 1;
      }
      offset = read.nextOffset;
    }
    invariant(offset >= to, () => `producer state replay of ${this.directory} stopped at ${offset}, log end ${to}`);
    return replayed;
  }

  /** Replaces the state with a snapshot's; throws SnapshotFormatError if anything does not check out. */
  private load(offset: number, text: string): void {
    const root = snapshotBody(text) as { offset?: unknown; producers?: unknown };
    if (typeof root !== 'object' || root === null || root.offset !== offset || !Array.isArray(root.producers)) {
      throw new SnapshotFormatError(`body does not describe offset ${offset}`);
    }
    this.entries.clear();
    for (const item of root.producers) {
      if (!Array.isArray(item) || item.length !== 5) throw new SnapshotFormatError('malformed producer entry');
      const [producerId, producerEpoch, lastActivityMs, transactionFirstOffset, batches] = item as unknown[];
      if (
        !isInteger(producerId, 0) ||
        !isInteger(producerEpoch, NO_EPOCH, 0x7fff) ||
        !isInteger(lastActivityMs) ||
        !isInteger(transactionFirstOffset, -1)
      ) {
        throw new SnapshotFormatError(`malformed producer entry ${JSON.stringify(item).slice(0, 100)}`);
      }
      if (!Array.isArray(batches) || batches.length > BATCHES_KEPT_PER_PRODUCER)
        throw new SnapshotFormatError(`malformed batches of producer ${producerId}`);
      const entry: ProducerEntry = { producerId, producerEpoch, lastActivityMs, transactionFirstOffset, batches: [] };
      for (const batch of batches as unknown[]) {
        if (!Array.isArray(batch) || batch.length !== 5)
          throw new SnapshotFormatError(`malformed batch of producer ${producerId}`);
        const [baseSequence, lastSequence, baseOffset, lastOffset, maxTimestamp] = batch as unknown[];
        if (
          !isInteger(baseSequence, 0, MAX_SEQUENCE) ||
          !isInteger(lastSequence, 0, MAX_SEQUENCE) ||
          !isInteger(baseOffset, 0) ||
          !isInteger(lastOffset, baseOffset) ||
          lastOffset >= offset ||
          !isInteger(maxTimestamp)
        ) {
          throw new SnapshotFormatError(`malformed batch of producer ${producerId}`);
        }
        entry.batches.push({ baseSequence, lastSequence, baseOffset, lastOffset, maxTimestamp });
      }
      if (this.entries.has(producerId)) throw new SnapshotFormatError(`producer ${producerId} listed twice`);
      this.entries.set(producerId, entry);
    }
    this.mapEndOffset = offset;
    this.evictOverCap();
  }
}

/** Sequence `sequence + delta` with Kafka's wrap from 2^31-1 to 0 (DefaultRecordBatch.incrementSequence). */
export function incrementSequence(sequence: number, delta: number): number {
  return sequence > MAX_SEQUENCE - delta ? delta - (MAX_SEQUENCE - sequence) - 1 : sequence + delta;
}

function isNextSequence(lastSequence: number, nextSequence: number): boolean {
  return nextSequence === lastSequence + 1 || (nextSequence === 0 && lastSequence === MAX_SEQUENCE);
}
