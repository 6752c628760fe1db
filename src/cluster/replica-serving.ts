// The leader's side of a replica fetch (a Fetch with replica_id ≥ 0): each partition's fetch offset is
// the follower's log end, recorded before anything is read (it may move the high watermark and answer
// waiting acks=-1 produces); the answer carries whole batches from there up to the leader's log end —
// past the high watermark, which only consumers stop at — and the high watermark for the follower to
// follow. A fetch that finds nothing new waits for an append on any of its partitions, up to its
// max_wait_ms, so a follower hears of a batch as soon as the leader has it durable.
//
// Leader epochs fence stale fetches (KIP-101/KIP-320): a follower at an older epoch than the leader's
// is FENCED_LEADER_EPOCH, one at a newer epoch (this broker has not heard of its leadership yet) is
// UNKNOWN_LEADER_EPOCH, and a partition not led here is NOT_LEADER_OR_FOLLOWER.
import type { Partition } from '../broker/partition/partition.js';
import { ErrorCode } from '../protocol/generated/error-codes.js';
import type { FetchRequest, FetchResponseInput, PartitionDataInput } from '../protocol/generated/fetch.js';
import type { Clock } from '../runtime/clock.js';
import type { ReplicaManager } from './replica-manager.js';

const NO_RECORDS = Buffer.alloc(0);

interface Wanted {
  topic: string;
  index: number;
  fetchOffset: number;
  maxBytes: number;
  partition: Partition | null;
  errorCode: number;
}

function refused(index: number, errorCode: number): PartitionDataInput {
  return {
    partitionIndex: index,
    errorCode,
    highWatermark: -1n,
    lastStableOffset: -1n,
    logStartOffset: -1n,
    abortedTransactions: null,
    preferredReadReplica: -1,
    records: NO_RECORDS,
  };
}

/** What serving needs of the cluster node: its clock, and whether its etcd lease may still live. */
export interface ServingNode {
  readonly clock: Clock;
  leaseFresh(): boolean;
}

export async function serveReplicaFetch(
  node: ServingNode,
  replicas: ReplicaManager | null,
  request: FetchRequest,
  signal?: AbortSignal,
): Promise<FetchResponseInput> {
  const now = node.clock.now();
  const wanted: Wanted[] = [];
  for (const topic of request.topics)
    for (const p of topic.partitions) {
      const leader = replicas?.leaderOf(topic.topic, p.partition);
      const fetchOffset = Number(p.fetchOffset);
      let errorCode: number = ErrorCode.NONE;
      if (leader === undefined || !node.leaseFresh()) errorCode = ErrorCode.NOT_LEADER_OR_FOLLOWER;
      else if (p.currentLeaderEpoch >= 0 && p.currentLeaderEpoch < leader.leaderEpoch)
        errorCode = ErrorCode.FENCED_LEADER_EPOCH;
      else if (p.currentLeaderEpoch > leader.leaderEpoch) errorCode = ErrorCode.UNKNOWN_LEADER_EPOCH;
      else if (fetchOffset > leader.partition.logEndOffset || fetchOffset < leader.partition.logStartOffset)
        errorCode = ErrorCode.OFFSET_OUT_OF_RANGE;
      if (errorCode === ErrorCode.NONE) leader!.followerFetched(request.replicaId, fetchOffset, now);
      wanted.push({
        topic: topic.topic,
        index: p.partition,
        fetchOffset,
        maxBytes: p.partitionMaxBytes,
        partition: errorCode === ErrorCode.NONE ? leader!.partition : null,
        errorCode,
      });
    }
  const served = wanted.filter((w) => w.partition !== null);
  const nothingNew = served.every((w) => w.fetchOffset >= w.partition!.logEndOffset);
  if (served.length > 0 && nothingNew && request.maxWaitMs > 0 && served.length === wanted.length)
    await anyAppend(
      served.map((w) => w.partition!),
      request.maxWaitMs,
      signal,
    );

  const byTopic = new Map<string, PartitionDataInput[]>();
  let budget = request.maxBytes;
  for (const w of wanted) {
    let data: PartitionDataInput;
    if (w.partition === null) data = refused(w.index, w.errorCode);
    else {
      const p = w.partition;
      const read = budget > 0 ? await p.readForReplica(w.fetchOffset, Math.min(w.maxBytes, budget)) : null;
      const records = read?.records ?? NO_RECORDS;
      budget -= records.length;
      data = {
        partitionIndex: w.index,
        errorCode: ErrorCode.NONE,
        highWatermark: BigInt(p.highWatermark),
        lastStableOffset: BigInt(p.lastStableOffset),
        logStartOffset: BigInt(p.logStartOffset),
        abortedTransactions: null,
        preferredReadReplica: -1,
        records,
      };
    }
    byTopic.set(w.topic, [...(byTopic.get(w.topic) ?? []), data]);
  }
  return {
    throttleTimeMs: 0,
    errorCode: ErrorCode.NONE,
    sessionId: 0,
    responses: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })),
  };
}

/** Resolves when any of `partitions` has an append completed, after `maxWaitMs`, or on abort. */
function anyAppend(partitions: Partition[], maxWaitMs: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const waiter = { wake: () => done() };
    const timer = setTimeout(() => done(), maxWaitMs);
    const done = () => {
      clearTimeout(timer);
      for (const p of partitions) p.unparkAppendWaiter(waiter);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    signal?.addEventListener('abort', done);
    for (const p of partitions) p.parkAppendWaiter(waiter);
  });
}
