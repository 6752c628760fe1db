// What a sendBatch call is waiting for: its promise, and where each of its messages went (runs of
// consecutive messages per batch), settled when the batches holding them are answered.
//
// The accumulator adds a call's messages to batches as runs; the sender settles the runs of a batch
// when the broker answers it (acknowledgeRuns / rejectRuns); the call's results are built only when
// its last message is acknowledged. Neither the accumulator nor the sender knows the producer.
import type { RecordMetadata } from './producer-types.js';

/**
 * One sendBatch call: a single promise for all its messages, however many batches they land in. Its
 * RecordMetadata are built when the last message is acknowledged, not batch by batch: objects made
 * just before the caller gets them are mostly dead by the next garbage collection, while objects
 * waiting for a later batch would be copied by it.
 */
export interface SendGroup {
  topic: string;
  size: number;
  /** Where its messages went, in message order. */
  runs: SendRun[];
  remaining: number;
  settled: boolean;
  resolve(results: RecordMetadata[]): void;
  reject(error: Error): void;
}

/**
 * Consecutive records of a batch from one sendBatch call with one create time: messages
 * firstIndex … of the call. Messages without a timestamp share the call's, so a call is usually one
 * run per batch it lands in.
 */
export interface SendRun {
  group: SendGroup;
  firstIndex: number;
  count: number;
  partition: number;
  /** The create time; once acknowledged, the log append time when the topic uses it. */
  timestamp: number;
  /** Once acknowledged: the offset of the run's first message (−1n when the broker did not say). */
  baseOffset: bigint;
}

/** A run starting at message `index` of `group`'s call, listed in the group too. */
export function newRun(group: SendGroup, index: number, partition: number, timestamp: number): SendRun {
  const run: SendRun = { group, firstIndex: index, count: 1, partition, timestamp, baseOffset: -1n };
  group.runs.push(run);
  return run;
}

/**
 * The runs of an acknowledged batch, in record order: each takes its offsets (from the batch's base
 * offset, when the broker gave one) and the log append time (when the topic uses it); a call whose
 * last message this was resolves.
 */
export function acknowledgeRuns(runs: ReadonlyArray<SendRun>, baseOffset: bigint, logAppendTimeMs: number): void {
  let position = 0;
  for (const run of runs) {
    if (baseOffset >= 0n) run.baseOffset = position === 0 ? baseOffset : baseOffset + BigInt(position);
    position += run.count;
    if (logAppendTimeMs >= 0) run.timestamp = logAppendTimeMs;
    const group = run.group;
    group.remaining -= run.count;
    if (group.remaining === 0 && !group.settled) {
      group.settled = true;
      group.resolve(results(group));
    }
  }
}

/** Fails every message of a batch's runs (each sendBatch call once, with the first error it meets). */
export function rejectRuns(runs: ReadonlyArray<SendRun>, error: Error): void {
  for (const run of runs) {
    if (run.group.settled) continue;
    run.group.settled = true;
    run.group.reject(error);
  }
}

/** The RecordMetadata of every message of an acknowledged sendBatch call, in message order. */
function results(group: SendGroup): RecordMetadata[] {
  const all = new Array<RecordMetadata>(group.size);
  const topic = group.topic;
  for (const run of group.runs) {
    const { partition, timestamp } = run;
    const known = run.baseOffset >= 0n;
    let offset = run.baseOffset;
    const end = run.firstIndex + run.count;
    for (let index = run.firstIndex; index < end; index++) {
      all[index] = { topic, partition, offset, timestamp };
      if (known) offset += 1n;
    }
  }
  return all;
}
