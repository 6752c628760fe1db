// The partitions a consumer consumes and where it stands in each: one PartitionState per partition,
// however it came (assigned by hand or by the group).
//
//   position   the next offset to fetch: from `assign`, a seek, the group's committed offset, or
//              `autoOffsetReset` (earliest/latest) when there is none; undefined until resolved
//   epoch      bumped by every seek (and revoke, and a damaged batch), so work started for an older
//              position — a fetch answer out or being handed over — sees it and drops the rest
//   retryAt    after a damaged batch, the partition is not fetched again before this time
//
// The fetcher, the delivery and the commits read and move these states; this file knows none of
// them. Committed offsets are asked through `committed` (consumer-commits.ts), reset targets with
// ListOffsets.
import type { Cluster } from './cluster.js';
import { ClientOptionError } from './errors.js';
import { listOffsets, type OffsetSpec } from './offsets.js';

export interface PartitionState {
  topic: string;
  partition: number;
  /** Next offset to fetch; undefined until resolved (committed offset or reset). */
  position: number | undefined;
  /** Reset target when the position is unknown or out of range. */
  reset: OffsetSpec | undefined;
  paused: boolean;
  /** After records that could not be decoded: not fetched again before this time (ms, on the cluster clock). */
  retryAt: number;
  /** Bumped by every seek, so an answer to an older fetch is dropped. */
  epoch: number;
  lastCommitted: number | undefined;
  /** Decoding and delivery of fetched records, chained so a partition's records arrive in order. */
  delivering: Promise<void>;
}

/** A partition's name in the consumer and its engine: "topic/partition". */
export function partitionId(topic: string, partition: number): string {
  return `${topic}/${partition}`;
}

/** The group's committed offsets of these partitions, by partitionId (−1 or absent: none). */
export type CommittedLookup = (states: PartitionState[]) => Promise<Map<string, number>>;

export class ConsumerPartitions {
  /** By partitionId. */
  readonly states = new Map<string, PartitionState>();

  constructor(
    private readonly cluster: Cluster,
    private readonly autoOffsetReset: 'earliest' | 'latest',
    private readonly isolationLevel: number,
    /** Undefined without a group: a partition without a position goes to its reset target. */
    private readonly committed: CommittedLookup | undefined,
  ) {}

  /** The partition's state, made (and its topic added to the metadata) if it is new. */
  add(topic: string, partition: number): PartitionState {
    const id = partitionId(topic, partition);
    let state = this.states.get(id);
    if (!state) {
      state = {
        topic,
        partition,
        position: undefined,
        reset: undefined,
        paused: false,
        retryAt: 0,
        epoch: 0,
        lastCommitted: undefined,
        delivering: Promise.resolve(),
      };
      this.states.set(id, state);
      this.cluster.addTopics([topic]);
    }
    return state;
  }

  setPosition(state: PartitionState, to: bigint | OffsetSpec): void {
    state.epoch++;
    state.retryAt = 0;
    if (typeof to === 'bigint') {
      if (to < 0n) throw new ClientOptionError(`offset must be ≥ 0, got ${to}`);
      state.position = Number(to);
      state.reset = undefined;
    } else {
      state.position = undefined;
      state.reset = to;
    }
  }

  delete(ids: string[]): void {
    for (const id of ids) this.states.delete(id);
  }

  /**
   * Milliseconds until the earliest partition waiting after a damaged batch may be fetched again
   * (Infinity: none waits).
   */
  nextRetryInMs(): number {
    let earliest = Infinity;
    for (const state of this.states.values())
      if (state.retryAt !== 0 && !state.paused) earliest = Math.min(earliest, state.retryAt);
    return Math.max(0, earliest - this.cluster.clock.now());
  }

  /** Gives every partition without a position one: committed offset, else its reset target. */
  async resolvePositions(): Promise<void> {
    const unresolved = [...this.states.values()].filter((s) => s.position === undefined);
    if (unresolved.length === 0) return;
    const needCommitted = unresolved.filter((s) => s.reset === undefined);
    if (needCommitted.length > 0) {
      const committed = this.committed ? await this.committed(needCommitted) : new Map<string, number>();
      for (const state of needCommitted) {
        const offset = committed.get(partitionId(state.topic, state.partition));
        if (offset !== undefined && offset >= 0) {
          state.position = offset;
          state.lastCommitted = offset;
        } else state.reset = this.autoOffsetReset;
      }
    }
    const byReset = new Map<OffsetSpec, PartitionState[]>();
    for (const state of unresolved) {
      if (state.position !== undefined || state.reset === undefined) continue;
      const list = byReset.get(state.reset) ?? [];
      list.push(state);
      byReset.set(state.reset, list);
    }
    for (const [spec, states] of byReset) {
      const epochs = states.map((s) => s.epoch);
      const offsets = await listOffsets(this.cluster, states, spec, this.isolationLevel);
      states.forEach((state, index) => {
        if (state.epoch !== epochs[index]) return;
        const found = offsets.find((o) => o.topic === state.topic && o.partition === state.partition);
        if (!found) return;
        // A timestamp after the last message: start at the end.
        if (found.offset < 0n) state.reset = 'latest';
        else {
          state.position = Number(found.offset);
          state.reset = undefined;
        }
      });
    }
  }
}
