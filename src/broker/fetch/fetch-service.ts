// Fetch across partitions, with long-poll: every requested partition is read (partition-read.ts); if
// fewer than min_bytes came back, the fetch parks on those partitions until one's high watermark moves,
// max_wait_ms passes, the request is aborted (its connection closed) or the broker closes — then reads
// again. No timer polls the disk. `fetch.max.bytes` bounds the response, except that the first partition
// with data returns at least one whole batch (KIP-74).
import { ErrorCode } from '../../protocol/generated/error-codes.js';
import type { ParkedFetch } from '../partition/partition.js';
import type { PartitionSet } from '../partition-set.js';
import type { Clock } from '../services.js';
import {
  EMPTY_RECORDS,
  readPartition,
  type FetchPartitionRequest,
  type FetchPartitionResult,
  type IsolationLevel,
} from './partition-read.js';

export interface FetchLimits {
  maxWaitMs: number;
  minBytes: number;
  maxBytes: number;
  isolationLevel?: IsolationLevel;
}

export class FetchService {
  constructor(
    private readonly partitions: PartitionSet,
    private readonly settings: { fetchMaxBytes: number },
    private readonly clock: Clock,
    private readonly isClosed: () => boolean,
  ) {}

  async fetch(
    requests: readonly FetchPartitionRequest[],
    limits: FetchLimits,
    signal?: AbortSignal,
  ): Promise<FetchPartitionResult[]> {
    const deadline = this.clock.now() + Math.max(0, limits.maxWaitMs);
    const maxBytes = Math.min(limits.maxBytes, this.settings.fetchMaxBytes);
    const isolationLevel = limits.isolationLevel ?? 0;
    for (;;) {
      const results: FetchPartitionResult[] = [];
      let remaining = maxBytes;
      let total = 0;
      let anyError = false;
      for (const request of requests) {
        const budget =
          total === 0
            ? Math.max(1, Math.min(request.partitionMaxBytes, remaining))
            : Math.min(request.partitionMaxBytes, remaining);
        const partition = this.partitions.get(request.topic, request.partition);
        const result = await readPartition(partition, request, budget, isolationLevel);
        // KIP-74: only the first partition with data may exceed its limits (by one whole batch);
        // storage returns at least one batch, so a later partition's oversized batch is dropped here.
        if (total > 0 && result.records.length > budget) result.records = EMPTY_RECORDS;
        if (result.errorCode !== ErrorCode.NONE) anyError = true;
        results.push(result);
        total += result.records.length;
        remaining -= result.records.length;
      }
      const waitMs = deadline - this.clock.now();
      if (total >= limits.minBytes || anyError || waitMs <= 0 || this.isClosed() || signal?.aborted) return results;
      await this.parkOn(requests, waitMs, signal);
    }
  }

  /** Resolves when one of the partitions' high watermark moves, after `waitMs`, on abort, or on close. */
  private parkOn(requests: readonly FetchPartitionRequest[], waitMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const parkedOn = requests
        .map((request) => this.partitions.get(request.topic, request.partition))
        .filter((partition) => partition !== undefined);
      let woken = false;
      const waiter: ParkedFetch = {
        wake: () => {
          if (woken) return;
          woken = true;
          clearTimeout(timer);
          signal?.removeEventListener('abort', waiter.wake);
          for (const partition of parkedOn) partition.unpark(waiter);
          resolve();
        },
      };
      const timer = setTimeout(waiter.wake, waitMs);
      signal?.addEventListener('abort', waiter.wake, { once: true });
      for (const partition of parkedOn) if (!woken) partition.park(waiter); // a retired one wakes it at once
    });
  }
}
