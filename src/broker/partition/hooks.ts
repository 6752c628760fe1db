// The named points of a partition's pipelines where a broker-side feature (delayed delivery,
// de-duplication, the key index, message trace, replication) plugs in:
//
//   beforeAppend        produce pipeline, after the batch's checks, before it is appended; may refuse it
//   afterAppend         produce pipeline, once the batch is appended and as durable as the flush policy says
//   afterHighWatermark  the Partition, each time its high watermark moves (any append: produce, markers,
//                       the broker's own topics)
//
// A feature adds its hooks once at start. With none added (today's broker) each point costs one length
// check of an empty array: the hot path neither allocates nor calls anything for it.
import type { RecordBatchHeader } from '../../protocol/record-batch/header.js';
import type { Failure } from '../services.js';

/** Which partition a hook runs for. */
export interface HookedPartition {
  readonly topic: string;
  readonly index: number;
}

/** Sees a produced batch before it is appended. Returns null to let it pass, or the failure to answer
 *  the producer with (the batch is then not appended). Runs synchronously: the offset is assigned in the
 *  same tick as the producer checks. */
export type BeforeAppendHook = (partition: HookedPartition, batch: RecordBatchHeader) => Failure | null;

/** A produced batch is in the log at [baseOffset, lastOffset]. */
export type AfterAppendHook = (partition: HookedPartition, baseOffset: number, lastOffset: number) => void;

/** The high watermark moved from `previous` to `highWatermark`: records below it are committed. */
export type AfterHighWatermarkHook = (partition: HookedPartition, highWatermark: number, previous: number) => void;

export class PartitionHooks {
  readonly beforeAppend: BeforeAppendHook[] = [];
  readonly afterAppend: AfterAppendHook[] = [];
  readonly afterHighWatermark: AfterHighWatermarkHook[] = [];

  /** Whether a point has any hook: the pipelines test this before doing any work for it. */
  get any(): boolean {
    return this.beforeAppend.length + this.afterAppend.length + this.afterHighWatermark.length > 0;
  }

  runBeforeAppend(partition: HookedPartition, batch: RecordBatchHeader): Failure | null {
    for (const hook of this.beforeAppend) {
      const refused = hook(partition, batch);
      if (refused !== null) return refused;
    }
    return null;
  }

  runAfterAppend(partition: HookedPartition, baseOffset: number, lastOffset: number): void {
    for (const hook of this.afterAppend) hook(partition, baseOffset, lastOffset);
  }

  runAfterHighWatermark(partition: HookedPartition, highWatermark: number, previous: number): void {
    for (const hook of this.afterHighWatermark) hook(partition, highWatermark, previous);
  }
}
