// Transactions of the producer (KIP-98), the client side of docs/transactions.md.
//
// A producer with `transactionalId` finds its transaction coordinator (FindCoordinator, key type 1)
// and gets its producer id and epoch there (InitProducerId with the id: this fences any older
// producer with the same id and aborts its open transaction). Then `producer.transaction(fn)`:
//
//   begin        local only; sends outside a transaction are refused
//   send         the normal batching path; before the first batch of a partition the partition is
//                added to the transaction (AddPartitionsToTxn); batches carry the transactional flag
//   sendOffsets  AddOffsetsToTxn (the group's offsets partition joins the transaction), then
//                TxnOffsetCommit to the group coordinator: visible to the group only on commit
//   end          flush, then EndTxn commit; if `fn` throws or a send failed, EndTxn abort and the
//                error is rethrown. After an abort the producer takes a new epoch (InitProducerId
//                again), so sequence numbers restart cleanly whatever the failed batches left.
//
// PRODUCER_FENCED / INVALID_PRODUCER_EPOCH from any of these (or from Produce) become a
// ProducerFencedError, and the producer refuses everything afterwards: another instance owns the id.
import { ApiKey } from '../protocol/generated/index.js';
import type { FindCoordinatorResponse } from '../protocol/generated/find-coordinator.js';
import type { InitProducerIdResponse } from '../protocol/generated/init-producer-id.js';
import type { AddPartitionsToTxnResponse } from '../protocol/generated/add-partitions-to-txn.js';
import type { AddOffsetsToTxnResponse } from '../protocol/generated/add-offsets-to-txn.js';
import type { TxnOffsetCommitResponse } from '../protocol/generated/txn-offset-commit.js';
import type { EndTxnResponse } from '../protocol/generated/end-txn.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { errorTypes } from '../runtime/errors.js';
import type { Cluster } from './cluster.js';
import { ConnectionError, KafkaError, SluiceClientError } from './errors.js';
import type { ProducerMessage, RecordMetadata } from './producer-types.js';

/** Another producer with the same transactional id took over: this one can do nothing more. */
export class ProducerFencedError extends SluiceClientError {
  override name = 'ProducerFencedError';
  readonly transactionalId: string;
  constructor(transactionalId: string, cause?: unknown) {
    super(
      `the producer with transactional id "${transactionalId}" was fenced by a newer producer ` +
        'with the same id; close it',
      errorTypes.ProducerFencedError.retriable,
      { cause },
    );
    this.transactionalId = transactionalId;
  }
}

export function isFencingCode(code: number): boolean {
  return code === ErrorCode.PRODUCER_FENCED || code === ErrorCode.INVALID_PRODUCER_EPOCH;
}

export interface TransactionOffsets {
  groupId: string;
  /** The next offset to consume per partition (the last processed offset + 1). */
  offsets: Array<{ topic: string; partition: number; offset: bigint; metadata?: string | null }>;
  /** The consumer's group generation and member id; -1 / '' (default) skip the broker's member check. */
  generationId?: number;
  memberId?: string;
  groupInstanceId?: string | null;
}

/** The handle `producer.transaction(fn)` gives to `fn`. */
export interface Transaction<K = Buffer, V = Buffer> {
  send(topic: string, message: ProducerMessage<K, V>): Promise<RecordMetadata>;
  sendBatch(topic: string, messages: ReadonlyArray<ProducerMessage<K, V>>): Promise<RecordMetadata[]>;
  /** Commits consumed offsets for a group as part of this transaction. */
  sendOffsets(offsets: TransactionOffsets): Promise<void>;
}

/** The coordinator requests of one transactional id, and the state of the current transaction. */
export class TransactionCoordinator {
  producerId = -1n;
  producerEpoch = -1;
  /** Partitions ("topic\0partition") added to the current transaction, or being added. */
  private readonly added = new Map<string, Promise<void>>();
  /** The ones the coordinator confirmed (no await needed for their later messages). */
  private readonly confirmed = new Set<string>();
  offsetsAdded = false;
  private coordinator: number | undefined;
  fenced: ProducerFencedError | undefined;

  constructor(
    private readonly cluster: Cluster,
    readonly transactionalId: string,
    private readonly transactionTimeoutMs: number,
  ) {}

  /** True when something was added to the current transaction (so EndTxn is needed). */
  get touched(): boolean {
    return this.added.size > 0 || this.offsetsAdded;
  }

  reset(): void {
    this.added.clear();
    this.confirmed.clear();
    this.offsetsAdded = false;
  }

  private check(code: number, message: string | null | undefined, context: string): void {
    if (code === 0) return;
    if (isFencingCode(code)) throw this.fence(new KafkaError(code, message, context));
    if (code === ErrorCode.NOT_COORDINATOR || code === ErrorCode.COORDINATOR_NOT_AVAILABLE)
      this.coordinator = undefined;
    throw new KafkaError(code, message, context);
  }

  fence(cause: unknown): ProducerFencedError {
    this.fenced ??= new ProducerFencedError(this.transactionalId, cause);
    return this.fenced;
  }

  private async coordinatorNode(): Promise<number> {
    if (this.coordinator !== undefined) return this.coordinator;
    const answer = await this.cluster.request<FindCoordinatorResponse>(-1, ApiKey.FindCoordinator, {
      key: this.transactionalId,
      keyType: 1,
    });
    this.check(answer.errorCode, answer.errorMessage, `FindCoordinator for transactional id "${this.transactionalId}"`);
    if (!this.cluster.brokers.has(answer.nodeId))
      this.cluster.brokers.set(answer.nodeId, {
        nodeId: answer.nodeId,
        host: answer.host,
        port: answer.port,
        rack: null,
      });
    this.coordinator = answer.nodeId;
    return answer.nodeId;
  }

  /** A request to the transaction coordinator, retried (with a new lookup) on retriable errors. */
  private request<R>(what: string, apiKey: number, body: object, check: (response: R) => void): Promise<R> {
    if (this.fenced) return Promise.reject(this.fenced);
    return this.cluster.withRetries(what, async () => {
      const node = await this.coordinatorNode();
      try {
        const response = await this.cluster.request<R>(node, apiKey, body);
        check(response);
        return response;
      } catch (error) {
        if (error instanceof ConnectionError) this.coordinator = undefined;
        throw error;
      }
    });
  }

  async initProducerId(): Promise<{ producerId: bigint; producerEpoch: number }> {
    const response = await this.request<InitProducerIdResponse>(
      'InitProducerId',
      ApiKey.InitProducerId,
      {
        transactionalId: this.transactionalId,
        transactionTimeoutMs: this.transactionTimeoutMs,
        producerId: -1n,
        producerEpoch: -1,
      },
      (r) => this.check(r.errorCode, null, `InitProducerId for "${this.transactionalId}"`),
    );
    this.producerId = response.producerId;
    this.producerEpoch = response.producerEpoch;
    return { producerId: response.producerId, producerEpoch: response.producerEpoch };
  }

  /** Adds a partition to the current transaction once; concurrent callers share the request. */
  addPartition(topic: string, partition: number): Promise<void> | undefined {
    const id = `${topic}\u0000${partition}`;
    if (this.confirmed.has(id)) return undefined;
    const known = this.added.get(id);
    if (known) return known;
    const adding = this.request<AddPartitionsToTxnResponse>(
      'AddPartitionsToTxn',
      ApiKey.AddPartitionsToTxn,
      {
        v3AndBelowTransactionalId: this.transactionalId,
        v3AndBelowProducerId: this.producerId,
        v3AndBelowProducerEpoch: this.producerEpoch,
        v3AndBelowTopics: [{ name: topic, partitions: [partition] }],
      },
      (r) => {
        this.check(r.errorCode, null, 'AddPartitionsToTxn');
        for (const t of r.resultsByTopicV3AndBelow)
          for (const p of t.resultsByPartition)
            this.check(p.partitionErrorCode, null, `AddPartitionsToTxn ${t.name}/${p.partitionIndex}`);
      },
    ).then(
      () => {
        if (this.added.get(id) === adding) this.confirmed.add(id);
      },
      (error: unknown) => {
        if (this.added.get(id) === adding) this.added.delete(id);
        throw error;
      },
    );
    this.added.set(id, adding);
    return adding;
  }

  /** AddOffsetsToTxn, then TxnOffsetCommit to the group coordinator. */
  async sendOffsets(offsets: TransactionOffsets): Promise<void> {
    const { groupId } = offsets;
    if (typeof groupId !== 'string' || groupId.length === 0)
      throw new SluiceClientError('sendOffsets needs a groupId', false);
    await this.request<AddOffsetsToTxnResponse>(
      'AddOffsetsToTxn',
      ApiKey.AddOffsetsToTxn,
      {
        transactionalId: this.transactionalId,
        producerId: this.producerId,
        producerEpoch: this.producerEpoch,
        groupId,
      },
      (r) => this.check(r.errorCode, null, `AddOffsetsToTxn for group "${groupId}"`),
    );
    this.offsetsAdded = true;
    const topics = new Map<
      string,
      Array<{
        partitionIndex: number;
        committedOffset: bigint;
        committedLeaderEpoch: number;
        committedMetadata: string | null;
      }>
    >();
    for (const o of offsets.offsets) {
      let list = topics.get(o.topic);
      if (!list) topics.set(o.topic, (list = []));
      list.push({
        partitionIndex: o.partition,
        committedOffset: o.offset,
        committedLeaderEpoch: -1,
        committedMetadata: o.metadata ?? null,
      });
    }
    if (this.fenced) throw this.fenced;
    await this.cluster.coordinatorRequest<TxnOffsetCommitResponse>(
      groupId,
      ApiKey.TxnOffsetCommit,
      {
        transactionalId: this.transactionalId,
        groupId,
        producerId: this.producerId,
        producerEpoch: this.producerEpoch,
        generationId: offsets.generationId ?? -1,
        memberId: offsets.memberId ?? '',
        groupInstanceId: offsets.groupInstanceId ?? null,
        topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
      },
      (r) => {
        for (const t of r.topics)
          for (const p of t.partitions)
            this.check(p.errorCode, null, `TxnOffsetCommit ${t.name}/${p.partitionIndex} for group "${groupId}"`);
      },
    );
  }

  async endTxn(commit: boolean): Promise<void> {
    await this.request<EndTxnResponse>(
      'EndTxn',
      ApiKey.EndTxn,
      {
        transactionalId: this.transactionalId,
        producerId: this.producerId,
        producerEpoch: this.producerEpoch,
        committed: commit,
      },
      (r) => this.check(r.errorCode, null, `EndTxn ${commit ? 'commit' : 'abort'}`),
    );
  }
}
