// The consumer's fetches: one Fetch per leader with every partition that may be fetched now (not
// paused, position known, not waiting after a damaged batch), and what happens to each answer.
//
//   position   the next position comes from the answer's batch headers alone, so the next fetch
//              can go out at once; locating the records and handing them over runs meanwhile,
//              chained per partition so its records reach the engine in order
//   stale      an answer for an older epoch (seek, revoke, re-assign since the fetch went out) is
//              dropped; so is the rest of an answer being handed over when the epoch moves
//   errors     OFFSET_OUT_OF_RANGE resets the position to `autoOffsetReset`; stale-metadata errors
//              refresh the metadata; a damaged batch is reported and fetched again from its first
//              offset after `retryBackoffMs` (the batches before it are handed over)
//
// `undelivered` counts the answers not yet handed over: the consumer's loop lets one be handed over
// while the next fetch is out, not more. It reads and moves the partition states
// (consumer-partitions.ts) and hands batches to the delivery (consumer-delivery.ts).
import { ApiKey } from '../protocol/generated/index.js';
import type { FetchResponse } from '../protocol/generated/fetch.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import { locateRecordBatches } from '../protocol/record-batch/record-locator.js';
import {
  BASE_OFFSET_OFFSET,
  BATCH_HEADER_BYTES,
  BATCH_LENGTH_OFFSET,
  BATCH_LENGTH_PREFIX_BYTES,
  LAST_OFFSET_DELTA_OFFSET,
  readInt64AsNumber,
} from '../protocol/record-batch/header.js';
import { staleMetadata, type Cluster } from './cluster.js';
import type { EngineDelivery } from './consumer-delivery.js';
import { partitionId, type ConsumerPartitions, type PartitionState } from './consumer-partitions.js';
import { KafkaError, throwIfError } from './errors.js';

export interface FetchSettings {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  partitionMaxBytes: number;
  isolationLevel: number;
  autoOffsetReset: 'earliest' | 'latest';
}

/** Where the fetcher reports what it cannot act on (a non-retriable partition error, a damaged batch). */
export interface FetchErrors {
  onError?(error: unknown, message: undefined): void;
}

export class Fetcher {
  /** Fetch responses whose records are not yet handed to the engine. */
  undelivered = 0;
  private deliveredWaiter: (() => void) | undefined;
  private stopped = false;

  constructor(
    private readonly settings: FetchSettings,
    private readonly cluster: Cluster,
    private readonly partitions: ConsumerPartitions,
    private readonly delivery: EngineDelivery,
    private readonly errors: FetchErrors,
  ) {}

  /** Nothing more is handed over (the consumer is closing, or was fenced). */
  stop(): void {
    this.stopped = true;
  }

  /** Resolves when an answer has been handed over, or on `wakeWaiter`. */
  delivered(): Promise<void> {
    return new Promise<void>((resolve) => (this.deliveredWaiter = resolve));
  }

  wakeWaiter(): void {
    this.deliveredWaiter?.();
  }

  /** One round of fetches, one per leader in parallel. False when there was nothing to fetch. */
  async fetchOnce(): Promise<boolean> {
    const byLeader = new Map<number, PartitionState[]>();
    for (const state of this.partitions.states.values()) {
      if (
        state.paused ||
        state.position === undefined ||
        (state.retryAt !== 0 && state.retryAt > this.cluster.clock.now())
      )
        continue;
      if (!this.cluster.topics.has(state.topic)) await this.cluster.topic(state.topic);
      const leader = this.cluster.leaderOf(state.topic, state.partition);
      if (leader === undefined) {
        await this.cluster.refreshMetadata();
        continue;
      }
      const list = byLeader.get(leader) ?? [];
      list.push(state);
      byLeader.set(leader, list);
    }
    if (byLeader.size === 0) return false;
    await Promise.all([...byLeader].map(([leader, states]) => this.fetchFrom(leader, states)));
    return true;
  }

  private async fetchFrom(leader: number, states: PartitionState[]): Promise<void> {
    const settings = this.settings;
    const asked = states.map((s) => ({ state: s, epoch: s.epoch, position: s.position! }));
    const topics = new Map<string, Array<{ partition: number; fetchOffset: bigint; partitionMaxBytes: number }>>();
    for (const { state, position } of asked) {
      const list = topics.get(state.topic) ?? [];
      list.push({
        partition: state.partition,
        fetchOffset: BigInt(position),
        partitionMaxBytes: settings.partitionMaxBytes,
      });
      topics.set(state.topic, list);
    }
    const body = {
      replicaId: -1,
      maxWaitMs: settings.maxWaitMs,
      minBytes: settings.minBytes,
      maxBytes: settings.maxBytes,
      isolationLevel: settings.isolationLevel,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [...topics].map(([topic, partitions]) => ({ topic, partitions })),
    };
    const response = await this.cluster.request<FetchResponse>(leader, ApiKey.Fetch, body, {
      timeoutMs: this.cluster.requestTimeoutMs + settings.maxWaitMs,
    });
    throwIfError(response.errorCode, null, 'Fetch');
    let stale = false;
    for (const topic of response.responses) {
      for (const p of topic.partitions) {
        const entry = asked.find((a) => a.state.topic === topic.topic && a.state.partition === p.partitionIndex);
        if (!entry) continue;
        const { state, epoch, position } = entry;
        // Seeked, revoked or re-assigned while the fetch was out: this answer is for an old position.
        if (state.epoch !== epoch || this.partitions.states.get(partitionId(state.topic, state.partition)) !== state)
          continue;
        if (p.errorCode === ErrorCode.OFFSET_OUT_OF_RANGE) {
          state.position = undefined;
          state.reset = settings.autoOffsetReset;
          continue;
        }
        if (p.errorCode !== 0) {
          const error = new KafkaError(p.errorCode, null, `fetch ${state.topic}/${state.partition}`);
          if (staleMetadata(error)) stale = true;
          else if (!error.retriable) this.errors.onError?.(error, undefined);
          continue;
        }
        if (!p.records || p.records.length === 0) continue;
        // The next position comes from the batch headers alone, so the next fetch goes out at once;
        // decoding and handing over the records runs meanwhile, in order per partition.
        const next = nextOffsetAfter(p.records);
        if (next === undefined) continue;
        state.position = Math.max(position, next);
        const records = p.records;
        const aborted = p.abortedTransactions;
        this.undelivered++;
        state.delivering = state.delivering
          .then(async () => {
            if (!this.current(state, epoch)) return;
            // Each batch goes to the engine as soon as it is located, so handlers start after the
            // first batch of a response, not after all of them.
            const delivery = this.delivery.start(state, epoch, position, aborted);
            try {
              await locateRecordBatches(
                records,
                {},
                (batch) => this.current(state, epoch) && this.delivery.deliverBatch(delivery, batch),
              );
            } catch (error) {
              // Undecodable records: fetch them again from the first one not handed over.
              if (state.epoch === epoch) {
                state.epoch++;
                state.position = delivery.next;
                state.retryAt = this.cluster.clock.now() + this.cluster.retryBackoffMs;
              }
              throw error;
            }
          })
          .catch((error: unknown) => this.errors.onError?.(error, undefined))
          .finally(() => {
            this.undelivered--;
            this.deliveredWaiter?.();
          });
      }
    }
    if (stale) await this.cluster.refreshMetadata();
  }

  /**
   * Whether `state` is still consumed from the position a fetch asked with `epoch` (no seek, revoke or
   * close since).
   */
  private current(state: PartitionState, epoch: number): boolean {
    return (
      state.epoch === epoch &&
      !this.stopped &&
      this.partitions.states.get(partitionId(state.topic, state.partition)) === state
    );
  }
}

/** One past the last offset of the whole batches in a Fetch `records` field, read from batch headers only. */
function nextOffsetAfter(records: Buffer): number | undefined {
  let next: number | undefined;
  let position = 0;
  while (records.length - position >= BATCH_HEADER_BYTES) {
    const totalBytes = records.readInt32BE(position + BATCH_LENGTH_OFFSET) + BATCH_LENGTH_PREFIX_BYTES;
    if (totalBytes < BATCH_HEADER_BYTES || position + totalBytes > records.length) break;
    next =
      readInt64AsNumber(records, position + BASE_OFFSET_OFFSET) +
      records.readInt32BE(position + LAST_OFFSET_DELTA_OFFSET) +
      1;
    position += totalBytes;
  }
  return next;
}
