// Reading the half-message channel: new half messages from `__sluice_half` and decisions from
// `__sluice_half_op`, applied to the pending half messages (pending.ts); and reading a half message
// back, or looking for a moved one in its target.
//
// One read of partition p takes the op records up to the op partition's high watermark taken *before*
// the half partition's, reading half messages as far as an op needs them: a producer writes a decision
// only after its half message was acknowledged, so every genuine op names a half message below that
// high watermark and is never applied before its half message is known. Ops naming a later offset,
// another partition, or nothing readable are ignored.
import { decodeRecordBatches, type DecodedRecord } from '../../protocol/record-batch/record-decoder.js';
import type { Clock, Logger, PartitionLookup, PartitionView } from '../services.js';
import { isInternalTopic } from '../topic-names.js';
import { readableBatches, type UnreadableBatch } from './channel-batches.js';
import type { PendingHalf, PendingHalves } from './pending.js';
import {
  formatHalfId,
  HALF_OP_TOPIC,
  HALF_TOPIC,
  halfIdOf,
  halfTargetOf,
  parseHalfId,
  parseOp,
  type HalfTarget,
} from './records.js';
import type { HalfMessageSettings } from './settings.js';

/** Bytes read per step from a channel partition or a target; a larger batch still comes back whole. */
const READ_BYTES = 1024 * 1024;
/** Decoded `__sluice_half` batches kept for reading half messages back (a batch is ≤ message.max.bytes). */
const RECENT_HALF_BATCHES = 8;
/** At most one warning per this long that the pending limit abandons new half messages. */
const OVER_LIMIT_WARNING_INTERVAL_MS = 10_000;

export class ChannelReader {
  private readonly halfReadOffsets: number[];
  private readonly opReadOffsets: number[];
  private readonly recentHalfBatches: Array<{
    partition: number;
    baseOffset: number;
    lastOffset: number;
    records: DecodedRecord[];
  }> = [];
  private lastOverLimitWarningMs = 0;

  constructor(
    private readonly partitions: PartitionLookup,
    private readonly pending: PendingHalves,
    private readonly settings: HalfMessageSettings,
    private readonly logger: Logger,
    private readonly clock: Clock,
    /** Channel partitions served: those `__sluice_half` and `__sluice_half_op` both have. */
    readonly partitionCount: number,
  ) {
    this.halfReadOffsets = Array.from({ length: partitionCount }, () => 0);
    this.opReadOffsets = Array.from({ length: partitionCount }, () => 0);
  }

  /** Whether a channel partition holds records not read yet. */
  advanced(): boolean {
    for (let p = 0; p < this.partitionCount; p++) {
      const half = this.partitions.partition(HALF_TOPIC, p);
      const op = this.partitions.partition(HALF_OP_TOPIC, p);
      if ((half && half.highWatermark > this.halfReadOffsets[p]!) || (op && op.highWatermark > this.opReadOffsets[p]!))
        return true;
    }
    return false;
  }

  /** Reads what is new in channel partition p (see the top of the file). */
  async readPartition(p: number): Promise<void> {
    const opLog = this.partitions.partition(HALF_OP_TOPIC, p);
    const halfLog = this.partitions.partition(HALF_TOPIC, p);
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
            this.pending.applyOp(formatHalfId(p, id.offset), parseOp(record.value), record.timestamp);
          }
          this.opReadOffsets[p] = record.offset + 1;
        }
      }
      this.opReadOffsets[p] = Math.max(this.opReadOffsets[p]!, Math.min(read.nextOffset, opEnd));
    }
    await this.readHalves(p, halfLog, halfEnd, halfEnd);
  }

  /** Reads half messages of partition p until at least `until` (whole read steps, never past `end`). */
  private async readHalves(p: number, log: PartitionView, until: number, end: number): Promise<void> {
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
    this.logger.warn(
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
      dueAtMs: this.clock.now() + this.settings.checkDelayMs,
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
      if (this.clock.now() - this.lastOverLimitWarningMs > OVER_LIMIT_WARNING_INTERVAL_MS) {
        this.lastOverLimitWarningMs = this.clock.now();
        this.logger.warn(
          { component: 'half-messages', pending: this.pending.size, limit: this.settings.pendingMax },
          'too many pending half messages: new ones are abandoned at once',
        );
      }
    }
    this.pending.add(entry);
  }

  /** Why a well-formed target cannot take the message now, or null. */
  private targetProblem(target: HalfTarget): string | null {
    if (isInternalTopic(target.topic)) return `target topic ${target.topic} is internal`;
    const partitions = this.partitions.partitionCount(target.topic);
    if (partitions === null) return `target topic ${target.topic} does not exist`;
    if (target.partition >= partitions)
      return `target partition ${target.partition} does not exist (${target.topic} has ${partitions})`;
    return null;
  }

  /** The half message's record, read back from `__sluice_half`; null when retention removed it.
   *  Producers send half messages in batches, and the messages of one batch tend to be decided
   *  together: the last few decoded batches are kept (`recentHalfBatches`). */
  async readHalf(entry: PendingHalf): Promise<DecodedRecord | null> {
    const log = this.partitions.partition(HALF_TOPIC, entry.partition);
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

  /** The offset of the record carrying half id `id` in a target partition at or after `from`, or null. */
  async findInTarget(log: PartitionView, from: number, id: string): Promise<number | null> {
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
}
