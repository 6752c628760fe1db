// The produce pipeline: one produced batch (a slice of the request, never copied) from the request to
// the partition's log, in this order —
//
//   1. where       the topic and partition exist here, and the topic takes client batches
//   2. header      produce-validation.ts: the 61-byte header, CRC, size against max.message.bytes
//   3. records     only when the topic's policy needs it (policy.ts): the record pass (record-pass.ts)
//   4. time        LogAppendTime topics: the broker's clock into maxTimestamp
//   5. txn add     Produce v12+: the partition joins the producer's transaction (the only await before
//                  the append)
//   6. admission   transaction-admission.ts, then the producer's sequence (producer-state.ts);
//                  a duplicate is answered with its original offset once committed
//   7. hook        beforeAppend (partition/hooks.ts) — may refuse
//   8. append      offsets assigned in the same tick as 6, producer and transaction state recorded
//   9. hook        afterAppend, once the batch is as durable as the flush policy promises
//
// Steps 6–8 run in one tick: the log assigns the offset synchronously inside append(), so no other
// produce can slip between the sequence check and the append.
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import { RecordBatchHeader } from '../../protocol/record-batch/header.js';
import type { AppendResult } from '../../storage/log.js';
import { acceptsClientProduce } from '../half-messages/records.js';
import type { PartitionHooks } from '../partition/hooks.js';
import { storageFailure, UNKNOWN_PARTITION } from '../failures.js';
import type { Partition } from '../partition/partition.js';
import type { PartitionSet } from '../partition-set.js';
import { stampLogAppendTime, validateProducedBatch } from '../produce-validation.js';
import type { Clock, Failure } from '../services.js';
import { isInternalTopic } from '../topic-names.js';
import type { TopicRegistry } from '../topic-registry.js';
import type { TransactionCoordinator } from '../transactions/coordinator.js';
import { needsRecordPass, producePolicyOf } from './policy.js';
import { passRecords, type RecordError } from './record-pass.js';
import { addToTransactionImplicitly, transactionalRefusal } from './transaction-admission.js';

export interface ProduceResult extends Failure {
  baseOffset: number;
  logAppendTimeMs: number;
  logStartOffset: number;
  /** KIP-467: the records that made the batch fail (Produce v8+ answers them). */
  recordErrors?: RecordError[];
}

/** What the Produce request says besides the batch: its transactional id, and whether (v12+, KIP-890
 *  part 2) a transactional batch adds its partition to the transaction itself. */
export interface ProduceRequestFacts {
  transactionalId: string | null;
  addsPartitionsToTransaction: boolean;
  /** -1 (all in-sync replicas), 1 (the leader) or 0; the broker's own appends are -1. */
  acks?: number;
}
export const PLAIN_PRODUCE: ProduceRequestFacts = { transactionalId: null, addsPartitionsToTransaction: false };

export interface ProducePipelineParts {
  topics: TopicRegistry;
  partitions: PartitionSet;
  /** The broker's own properties (topic configs fall back to them). */
  brokerProperties: Record<string, string>;
  /** Asked for at each transactional batch: the coordinator opens after the pipeline is built. */
  transactions: () => TransactionCoordinator;
  hooks: PartitionHooks;
  clock: Clock;
}

function refusedWith(failure: Failure): ProduceResult {
  return { ...failure, baseOffset: -1, logAppendTimeMs: -1, logStartOffset: -1 };
}

export class ProducePipeline {
  constructor(private readonly parts: ProducePipelineParts) {}

  /** Resolves when the batch is as durable as the flush policy promises (after fsync under `sync`), or
   *  with the failure that kept it out. */
  async produce(
    topicName: string,
    index: number,
    batch: Buffer | null,
    request: ProduceRequestFacts = PLAIN_PRODUCE,
  ): Promise<ProduceResult> {
    // The half-message channel is written by producers (docs/half-messages.md); other internal topics are the broker's.
    if (isInternalTopic(topicName) && !acceptsClientProduce(topicName))
      return refusedWith({
        errorCode: ErrorCode.INVALID_TOPIC_EXCEPTION,
        errorMessage: `Cannot append to internal topic ${topicName}`,
      });
    const topic = this.parts.topics.get(topicName);
    const partition = this.parts.partitions.get(topicName, index);
    if (!topic || !partition) return refusedWith(UNKNOWN_PARTITION);
    const acks = request.acks ?? -1;
    if (acks === -1 && partition.inSyncReplicaCount < partition.minInSyncReplicas)
      return refusedWith({
        errorCode: ErrorCode.NOT_ENOUGH_REPLICAS,
        errorMessage:
          `${partition.inSyncReplicaCount} in-sync replicas, ` +
          `min.insync.replicas is ${partition.minInSyncReplicas}`,
      });
    const { log } = partition;
    const problem = validateProducedBatch(batch, log.config.maxMessageBytes);
    if (problem) return refusedWith(problem);
    const policy = producePolicyOf(topic.configs, this.parts.brokerProperties);
    let header = batch!;
    if (needsRecordPass(policy, header)) {
      const passed = passRecords(header, policy, `${topicName}-${index}`, log.config.maxMessageBytes);
      if (passed.problem) return refusedWith(passed.problem); // its record errors, if any, go along
      header = passed.batch;
    }
    let logAppendTimeMs = -1;
    if (policy.logAppendTime) {
      logAppendTimeMs = this.parts.clock.now();
      stampLogAppendTime(header, logAppendTimeMs);
    }
    const view = new RecordBatchHeader(header);
    if (view.producerId < 0) return this.append(partition, header, view, logAppendTimeMs, acks);
    if (request.addsPartitionsToTransaction && view.isTransactional) {
      const refused = await addToTransactionImplicitly(
        this.parts.transactions(),
        request.transactionalId,
        view,
        topicName,
        index,
      );
      if (refused) return refusedWith(refused);
    }
    return this.admitAndAppend(partition, header, view, logAppendTimeMs, acks, request.transactionalId);
  }

  /** Steps 6–8 for a batch with a producer id: all in this tick. */
  private async admitAndAppend(
    partition: Partition,
    batch: Buffer,
    view: RecordBatchHeader,
    logAppendTimeMs: number,
    acks: number,
    transactionalId: string | null,
  ): Promise<ProduceResult> {
    const { log, producers, transactions } = partition;
    if (view.isTransactional && !transactions.isMarked) {
      // Once per partition, before the one-tick section below: a durable file saying "scan me at open".
      try {
        await transactions.markTransactional();
      } catch (error) {
        return refusedWith(storageFailure(error));
      }
    }
    if (partition.retired) return refusedWith(UNKNOWN_PARTITION); // deleted during the implicit add
    // Read-only, or a follower now: nothing below may record state for a batch the log would refuse.
    const appendRefusal = partition.appendRefusal;
    if (appendRefusal !== null) return refusedWith(storageFailure(appendRefusal));
    const coordinator = this.parts.transactions();
    const refused = transactionalRefusal(
      coordinator,
      transactionalId,
      transactions,
      view,
      partition.topic,
      partition.index,
    );
    if (refused) return refusedWith(refused);
    const now = this.parts.clock.now();
    const check = producers.check(view, now);
    if (check.kind === 'error') return refusedWith({ errorCode: check.errorCode, errorMessage: check.message });
    if (check.kind === 'duplicate') {
      // A retry of a batch we already have: answer with its original offset, once it is committed.
      const notCommitted = await partition.committedThrough(check.lastOffset + 1);
      if (notCommitted !== null) return refusedWith(notCommitted);
      return {
        errorCode: ErrorCode.NONE,
        errorMessage: null,
        baseOffset: check.baseOffset,
        logAppendTimeMs: logAppendTimeMs === -1 ? -1 : check.maxTimestamp,
        logStartOffset: log.logStartOffset,
      };
    }
    const hookRefused = this.beforeAppend(partition, view);
    if (hookRefused !== null) return refusedWith(hookRefused);
    const appended = partition.append(batch);
    producers.record(view, now);
    if (view.isTransactional) transactions.apply(view, null);
    return this.finish(partition, appended, logAppendTimeMs, acks);
  }

  private append(
    partition: Partition,
    batch: Buffer,
    view: RecordBatchHeader,
    logAppendTimeMs: number,
    acks: number,
  ): Promise<ProduceResult> {
    const hookRefused = this.beforeAppend(partition, view);
    if (hookRefused !== null) return Promise.resolve(refusedWith(hookRefused));
    return this.finish(partition, partition.append(batch), logAppendTimeMs, acks);
  }

  private beforeAppend(partition: Partition, view: RecordBatchHeader): Failure | null {
    const hooks = this.parts.hooks;
    return hooks.beforeAppend.length === 0 ? null : hooks.runBeforeAppend(partition, view);
  }

  private async finish(
    partition: Partition,
    appended: Promise<AppendResult>,
    logAppendTimeMs: number,
    acks: number,
  ): Promise<ProduceResult> {
    let result: AppendResult;
    try {
      result = await appended;
    } catch (error) {
      return refusedWith(storageFailure(error));
    }
    if (acks === -1) {
      // Every in-sync replica has it once the high watermark is past it (one node: at once — its rule is
      // the flush policy, which the append already waited for; then no wait is set up at all).
      if (partition.highWatermark <= result.lastOffset) {
        const notCommitted = await partition.committedThrough(result.lastOffset + 1);
        if (notCommitted !== null) return refusedWith(notCommitted);
      }
      if (partition.inSyncReplicaCount < partition.minInSyncReplicas)
        return refusedWith({
          errorCode: ErrorCode.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
          errorMessage:
            `appended, but the ISR shrank to ${partition.inSyncReplicaCount} ` +
            `(min.insync.replicas ${partition.minInSyncReplicas})`,
        });
    }
    const hooks = this.parts.hooks;
    if (hooks.afterAppend.length > 0) hooks.runAfterAppend(partition, result.baseOffset, result.lastOffset);
    return {
      errorCode: ErrorCode.NONE,
      errorMessage: null,
      baseOffset: result.baseOffset,
      logAppendTimeMs,
      logStartOffset: partition.log.logStartOffset,
    };
  }
}
