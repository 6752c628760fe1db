// The metadata view of a single node (view.ts): one broker, which is the controller and leads every
// partition of every topic it holds, at the leader epoch its Partition appends with, as the only
// replica and the only in-sync one. Nothing here is stored: each answer is read from the partitions
// that are open now, so a topic created or deleted is seen at once.
import type { BrokerNode, MetadataView, PartitionPlacement } from './view.js';

/** What the view reads of the broker: the open partitions and their leader epochs. */
export interface LocalPartitions {
  get(topic: string, partition: number): { readonly leaderEpoch: number } | undefined;
}

/** Where clients reach this broker; read at each answer (a listener on port 0 learns its port late). */
export interface AdvertisedListener {
  readonly advertisedHost: string;
  readonly advertisedPort: number;
}

export class LocalMetadataView implements MetadataView {
  constructor(
    readonly clusterId: string,
    readonly localNodeId: number,
    private readonly listener: AdvertisedListener,
    private readonly partitions: LocalPartitions,
    private readonly rack: string | null = null,
  ) {}

  private get self(): BrokerNode {
    const { advertisedHost: host, advertisedPort: port } = this.listener;
    return { nodeId: this.localNodeId, host, port, rack: this.rack };
  }

  controllerId(): number {
    return this.self.nodeId;
  }

  nodes(): readonly BrokerNode[] {
    return [this.self];
  }

  node(nodeId: number): BrokerNode | undefined {
    return nodeId === this.localNodeId ? this.self : undefined;
  }

  placement(topic: string, partition: number): PartitionPlacement | undefined {
    const open = this.partitions.get(topic, partition);
    if (open === undefined) return undefined;
    const self = [this.localNodeId];
    return {
      leaderId: this.localNodeId,
      leaderEpoch: open.leaderEpoch,
      replicas: self,
      inSyncReplicas: self,
      offlineReplicas: [],
    };
  }
}
