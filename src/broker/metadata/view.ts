// Where things are: the brokers of the cluster and, per partition, its leader, replicas, in-sync
// replicas and leader epoch. Handlers and services read placement from this view, never from the
// node's own id, so that the same code serves one node and a cluster:
//   - single-node mode: LocalMetadataView (local-view.ts) — this broker leads every partition at the
//     epoch its log records, with itself as the only replica;
//   - a cluster (src/cluster/, later): a view kept from etcd by the controller's decisions.
// The view answers "who", never "what is in the log": offsets, watermarks and data stay with the
// Partition objects.

import { ErrorCode } from '../../protocol/generated/error-codes.js';

export interface BrokerNode {
  nodeId: number;
  /** What clients are told to connect to (the advertised listener). */
  host: string;
  port: number;
  rack: string | null;
}

export interface PartitionPlacement {
  /** The broker that leads the partition, or -1 while it has none. */
  leaderId: number;
  /** Bumped each time leadership moves; stamped on every batch the leader appends (KIP-101). */
  leaderEpoch: number;
  /** Every broker that holds a copy, the preferred leader first. */
  replicas: readonly number[];
  /** The replicas caught up with the leader; `acks=-1` waits for all of them. */
  inSyncReplicas: readonly number[];
  /** Replicas whose broker holds the partition on a failed disk. */
  offlineReplicas: readonly number[];
}

export interface MetadataView {
  readonly clusterId: string;
  /** This broker's id. */
  readonly localNodeId: number;
  /** The controller's id, or -1 while there is none. */
  controllerId(): number;
  /** The live brokers, by id. */
  nodes(): readonly BrokerNode[];
  node(nodeId: number): BrokerNode | undefined;
  /** Placement of a partition, or undefined if the topic or partition does not exist. */
  placement(topic: string, partition: number): PartitionPlacement | undefined;
  /** The leader the cluster names for the partition, even while this broker withholds its own
   *  leadership from `placement` (not taken up yet, lease in doubt); -1 for none. Default: placement's. */
  namedLeader?(topic: string, partition: number): number;
}

/**
 * KIP-320: the error for a request that names a leader epoch (≥ 0; -1 means "not checked") other than the
 * partition's current one — FENCED_LEADER_EPOCH for an older one (the client's metadata is stale),
 * UNKNOWN_LEADER_EPOCH for a newer one (this broker's is) — or undefined when it matches or is not named.
 * Fetch, ListOffsets and OffsetForLeaderEpoch check it.
 */
export function leaderEpochMismatch(
  placement: PartitionPlacement | undefined,
  currentLeaderEpoch: number,
): number | undefined {
  if (placement === undefined || currentLeaderEpoch < 0 || currentLeaderEpoch === placement.leaderEpoch)
    return undefined;
  return currentLeaderEpoch < placement.leaderEpoch ? ErrorCode.FENCED_LEADER_EPOCH : ErrorCode.UNKNOWN_LEADER_EPOCH;
}

/** True when this broker leads the partition. */
export function isLocalLeader(view: MetadataView, topic: string, partition: number): boolean {
  return view.placement(topic, partition)?.leaderId === view.localNodeId;
}

/**
 * The placement of a partition that exists but that this broker does not lead — another broker does,
 * or none does yet. Produce, Fetch, ListOffsets and OffsetForLeaderEpoch answer such a partition with
 * NOT_LEADER_OR_FOLLOWER (and, where the version has the fields, the leader they know of), as Kafka's
 * ReplicaManager does for a partition its metadata knows but it does not lead. Undefined when this
 * broker leads it, and when the view does not know it: that case is the handler's own
 * UNKNOWN_TOPIC_OR_PARTITION, which `!isLocalLeader` alone could not tell apart.
 */
export function ledElsewhere(view: MetadataView, topic: string, partition: number): PartitionPlacement | undefined {
  const placement = view.placement(topic, partition);
  return placement !== undefined && placement.leaderId !== view.localNodeId ? placement : undefined;
}
