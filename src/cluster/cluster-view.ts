// The metadata view of a broker in a cluster (broker/metadata/view.ts): brokers, controller and
// placements as this broker's ClusterState holds them, with two local corrections —
//   - this broker never says it leads a partition while its etcd lease may have ended (it cannot know
//     it still leads), nor before its Partition took up leadership at the record's epoch;
//   - Sluice's own topics (`__sluice_*`, half messages) are not replicated yet: they are local to each
//     broker and placed on the lowest-numbered live broker, so every client finds the same one while
//     that broker lives (docs/cluster.md says what that costs). Kafka's internal topics
//     (`__consumer_offsets`, `__transaction_state`) are cluster topics like any other.
// Placements are built once per topic record and frozen; `placement` allocates nothing.
import type { BrokerNode, MetadataView, PartitionPlacement } from '../broker/metadata/view.js';
import { isInternalTopic, isReplicatedInternalTopic } from '../broker/topic-names.js';
import type { ClusterState } from './cluster-state.js';
import type { TopicRecord } from './records.js';

export interface LocalLeadership {
  /** The leader epoch at which the local Partition leads, or -1. */
  leadingEpoch(topic: string, partition: number): number;
  /** False once the etcd lease may have ended. */
  leaseFresh(): boolean;
  /** Local partitions of the broker's own topics, with their epochs. */
  localInternal(topic: string, partition: number): { leaderEpoch: number } | undefined;
}

interface Built {
  record: TopicRecord;
  placements: PartitionPlacement[];
  /** The same, with this broker's leadership withheld. */
  withheld: PartitionPlacement[];
}

export class ClusterMetadataView implements MetadataView {
  private built = new Map<string, Built>();
  private nodeList: readonly BrokerNode[] = [];
  private internalPlacements = new Map<number, PartitionPlacement>();

  constructor(
    readonly clusterId: string,
    readonly localNodeId: number,
    private readonly state: ClusterState,
    private readonly local: LocalLeadership,
  ) {}

  /** After every batch of watched changes. */
  refresh(): void {
    this.nodeList = Object.freeze(
      [...this.state.brokers.values()]
        .sort((a, b) => a.nodeId - b.nodeId)
        .map((b) => Object.freeze({ nodeId: b.nodeId, host: b.host, port: b.port, rack: b.rack })),
    );
    const next = new Map<string, Built>();
    for (const [name, { value: record }] of this.state.topics) {
      const known = this.built.get(name);
      next.set(name, known !== undefined && known.record === record ? known : this.build(record));
    }
    this.built = next;
    this.internalPlacements.clear();
  }

  private build(record: TopicRecord): Built {
    const placements = record.partitions.map((p) =>
      Object.freeze({
        leaderId: p.leader,
        leaderEpoch: p.leaderEpoch,
        replicas: Object.freeze([...p.replicas]),
        inSyncReplicas: Object.freeze([...p.isr]),
        offlineReplicas: Object.freeze(p.replicas.filter((id) => !this.state.brokers.has(id))),
      }),
    );
    const withheld = placements.map((p) =>
      p.leaderId === this.localNodeId ? Object.freeze({ ...p, leaderId: -1 }) : p,
    );
    return { record, placements, withheld };
  }

  controllerId(): number {
    return this.state.controller?.nodeId ?? -1;
  }

  nodes(): readonly BrokerNode[] {
    return this.nodeList;
  }

  node(nodeId: number): BrokerNode | undefined {
    return this.nodeList.find((n) => n.nodeId === nodeId);
  }

  placement(topic: string, partition: number): PartitionPlacement | undefined {
    const built = this.built.get(topic);
    if (built === undefined)
      return isInternalTopic(topic) && !isReplicatedInternalTopic(topic)
        ? this.internalPlacement(topic, partition)
        : undefined;
    const placement = built.placements[partition];
    if (placement === undefined || placement.leaderId !== this.localNodeId) return placement;
    const ready = this.local.leaseFresh() && this.local.leadingEpoch(topic, partition) === placement.leaderEpoch;
    return ready ? placement : built.withheld[partition];
  }

  namedLeader(topic: string, partition: number): number {
    return this.built.get(topic)?.placements[partition]?.leaderId ?? -1;
  }

  private internalPlacement(topic: string, partition: number): PartitionPlacement | undefined {
    const open = this.local.localInternal(topic, partition);
    if (open === undefined) return undefined;
    const live = this.state.eligibleBrokers();
    const host = live.length > 0 ? live[0]! : this.localNodeId;
    const leaderId = host === this.localNodeId && !this.local.leaseFresh() ? -1 : host;
    const key = leaderId * 65536 + open.leaderEpoch;
    let placement = this.internalPlacements.get(key);
    if (placement === undefined) {
      const replicas = Object.freeze([host]);
      placement = Object.freeze({
        leaderId,
        leaderEpoch: open.leaderEpoch,
        replicas,
        inSyncReplicas: replicas,
        offlineReplicas: [],
      });
      this.internalPlacements.set(key, placement);
    }
    return placement;
  }
}
