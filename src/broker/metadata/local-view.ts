// The metadata view of a single node (view.ts): one broker, which is the controller and leads every
// partition of every topic it holds, at the leader epoch its Partition appends with, as the only
// replica and the only in-sync one. Nothing here is stored: each answer is read from the partitions
// that are open now, so a topic created or deleted is seen at once, and from the advertised listener,
// whose port a listener on port 0 learns only after it bound.
//
// Produce, Fetch and ListOffsets ask for the placement of every partition they serve, so `placement`
// allocates nothing: every partition of one node at one epoch has the same placement, built once per
// epoch and frozen so that no caller can change what the next one reads. The node list is rebuilt only
// when the advertised address changed.
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

/** Placements kept, one per leader epoch seen. A single node stamps epoch 0 today; the bound keeps a
 *  long-lived broker from holding one object per epoch it ever answered. */
const PLACEMENTS_CACHED_MAX = 16;

const NO_REPLICAS: readonly number[] = Object.freeze([]);
const NO_NODES: readonly BrokerNode[] = Object.freeze([]);

export class LocalMetadataView implements MetadataView {
  private readonly self: readonly number[];
  private readonly byEpoch = new Map<number, PartitionPlacement>();
  private nodeList: readonly BrokerNode[] = NO_NODES;

  constructor(
    readonly clusterId: string,
    readonly localNodeId: number,
    private readonly listener: AdvertisedListener,
    private readonly partitions: LocalPartitions,
    private readonly rack: string | null = null,
  ) {
    this.self = Object.freeze([localNodeId]);
  }

  controllerId(): number {
    return this.localNodeId;
  }

  nodes(): readonly BrokerNode[] {
    const { advertisedHost: host, advertisedPort: port } = this.listener;
    const known = this.nodeList[0];
    if (known === undefined || known.host !== host || known.port !== port) {
      this.nodeList = Object.freeze([Object.freeze({ nodeId: this.localNodeId, host, port, rack: this.rack })]);
    }
    return this.nodeList;
  }

  node(nodeId: number): BrokerNode | undefined {
    return nodeId === this.localNodeId ? this.nodes()[0] : undefined;
  }

  placement(topic: string, partition: number): PartitionPlacement | undefined {
    const open = this.partitions.get(topic, partition);
    return open === undefined ? undefined : this.placementAt(open.leaderEpoch);
  }

  private placementAt(leaderEpoch: number): PartitionPlacement {
    let placement = this.byEpoch.get(leaderEpoch);
    if (placement === undefined) {
      if (this.byEpoch.size >= PLACEMENTS_CACHED_MAX) this.byEpoch.clear();
      placement = Object.freeze({
        leaderId: this.localNodeId,
        leaderEpoch,
        replicas: this.self,
        inSyncReplicas: this.self,
        offlineReplicas: NO_REPLICAS,
      });
      this.byEpoch.set(leaderEpoch, placement);
    }
    return placement;
  }
}
