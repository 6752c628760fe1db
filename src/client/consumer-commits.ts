// The consumer group's committed offsets, both ways: OffsetFetch for where a newly owned partition
// starts, OffsetCommit of the finished positions — on an interval (autoCommit), on `commit()`,
// before partitions are revoked, and on close.
//
// What is committed per partition is the engine's lowest unfinished offset (`committable`), never
// more, so a crash re-delivers what was unfinished and skips nothing. Commits run one at a time, in
// the order asked. It reads the partition states (consumer-partitions.ts) and the group's generation
// through callbacks; it does not know the consumer, the engine or the group member.
import { ApiKey } from '../protocol/generated/index.js';
import type { OffsetCommitResponse } from '../protocol/generated/offset-commit.js';
import type { OffsetFetchResponse } from '../protocol/generated/offset-fetch.js';
import type { Cluster } from './cluster.js';
import type { TopicPartition } from './consumer-types.js';
import { partitionId, type ConsumerPartitions, type PartitionState } from './consumer-partitions.js';
import { throwIfError } from './errors.js';

/** The member's generation as OffsetCommit names it (−1 and '' for a consumer outside a group). */
export interface CommitGeneration {
  generationId: number;
  memberId: string;
  groupInstanceId: string | null;
}

/** Where commits report: the consumer's options object, its listeners looked up at each report. */
export interface CommitListeners {
  onCommit?(offsets: Array<TopicPartition & { offset: bigint }>): void;
  onError?(error: unknown, message: undefined): void;
}

export class CommittedOffsets {
  private committing: Promise<void> = Promise.resolve();
  private commitTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly cluster: Cluster,
    private readonly groupId: string,
    private readonly partitions: ConsumerPartitions,
    /** The offset to commit for a partition (undefined: nothing to commit yet). */
    private readonly committable: (id: string) => number | undefined,
    private readonly generation: () => CommitGeneration | undefined,
    private readonly options: CommitListeners,
  ) {}

  /** The group's committed offsets of these partitions, by partitionId. */
  async fetch(states: PartitionState[]): Promise<Map<string, number>> {
    const topics = new Map<string, number[]>();
    for (const s of states) topics.set(s.topic, [...(topics.get(s.topic) ?? []), s.partition]);
    const groupId = this.groupId;
    const response = await this.cluster.coordinatorRequest<OffsetFetchResponse>(
      groupId,
      ApiKey.OffsetFetch,
      {
        groupId,
        topics: [...topics].map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
        requireStable: true,
      },
      (r) => throwIfError(r.errorCode, null, `fetch committed offsets of group "${groupId}"`),
    );
    const out = new Map<string, number>();
    for (const t of response.topics) {
      for (const p of t.partitions) {
        throwIfError(p.errorCode, null, `committed offset of ${t.name}/${p.partitionIndex}`);
        out.set(partitionId(t.name, p.partitionIndex), Number(p.committedOffset));
      }
    }
    return out;
  }

  /** Commits every partition's finished position, after the commits asked before. */
  commit(): Promise<void> {
    const run = this.committing.then(() => this.commitNow());
    this.committing = run.catch(() => undefined);
    return run;
  }

  /** Commits once the commits asked before are done; errors go to `onError` (close). */
  commitLast(): Promise<void> {
    return this.committing
      .then(() => this.commitNow())
      .catch((error: unknown) => this.options.onError?.(error, undefined));
  }

  startAutoCommit(intervalMs: number): void {
    this.commitTimer = setInterval(
      () => void this.commit().catch((error: unknown) => this.options.onError?.(error, undefined)),
      intervalMs,
    );
    this.commitTimer.unref();
  }

  stopAutoCommit(): void {
    if (this.commitTimer) clearInterval(this.commitTimer);
  }

  /** Commits the finished positions that moved since the last commit (only those in `only`, if given). */
  async commitNow(only?: Set<string>): Promise<void> {
    const toCommit: Array<{ state: PartitionState; offset: number }> = [];
    for (const [id, state] of this.partitions.states) {
      if (only && !only.has(id)) continue;
      const offset = this.committable(id);
      if (offset === undefined || offset === state.lastCommitted) continue;
      toCommit.push({ state, offset });
    }
    if (toCommit.length === 0) return;
    const topics = new Map<
      string,
      Array<{
        partitionIndex: number;
        committedOffset: bigint;
        committedLeaderEpoch: number;
        committedMetadata: string | null;
      }>
    >();
    for (const { state, offset } of toCommit) {
      const list = topics.get(state.topic) ?? [];
      list.push({
        partitionIndex: state.partition,
        committedOffset: BigInt(offset),
        committedLeaderEpoch: -1,
        committedMetadata: null,
      });
      topics.set(state.topic, list);
    }
    const generation = this.generation() ?? { generationId: -1, memberId: '', groupInstanceId: null };
    const groupId = this.groupId;
    await this.cluster.coordinatorRequest<OffsetCommitResponse>(
      groupId,
      ApiKey.OffsetCommit,
      {
        groupId,
        generationIdOrMemberEpoch: generation.generationId,
        memberId: generation.memberId,
        groupInstanceId: generation.groupInstanceId,
        retentionTimeMs: -1n,
        topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
      },
      (r) => {
        for (const t of r.topics)
          for (const p of t.partitions)
            throwIfError(p.errorCode, null, `commit ${t.name}/${p.partitionIndex} for group "${groupId}"`);
      },
    );
    for (const { state, offset } of toCommit) state.lastCommitted = offset;
    this.options.onCommit?.(
      toCommit.map(({ state, offset }) => ({ topic: state.topic, partition: state.partition, offset: BigInt(offset) })),
    );
  }
}
