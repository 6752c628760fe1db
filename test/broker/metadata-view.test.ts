// The metadata view (src/broker/metadata/): handlers read placement from it, not from the node's own
// id. Single node: LocalMetadataView answers from the open partitions, as kafkajs sees it over the
// wire; a view in which another broker leads shows in Metadata as a cluster's would.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { LocalMetadataView } from '../../src/broker/metadata/local-view.js';
import type { BrokerNode, MetadataView, PartitionPlacement } from '../../src/broker/metadata/view.js';
import { isLocalLeader } from '../../src/broker/metadata/view.js';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker } from '../support/test-broker.js';

test('the local view leads every open partition at its Partition epoch, and forgets a deleted topic', async () => {
  const server = await startTestBroker();
  try {
    await server.broker.createTopic('placed', 3, {});
    const view = server.broker.metadata;
    assert.ok(view instanceof LocalMetadataView);
    assert.equal(view.localNodeId, server.broker.identity.nodeId);
    assert.deepEqual(view.placement('placed', 2), {
      leaderId: view.localNodeId,
      leaderEpoch: server.broker.partitions.get('placed', 2)!.leaderEpoch,
      replicas: [view.localNodeId],
      inSyncReplicas: [view.localNodeId],
      offlineReplicas: [],
    });
    assert.equal(view.placement('placed', 3), undefined, 'no such partition');
    assert.ok(isLocalLeader(view, 'placed', 0));
    await server.broker.deleteTopic('placed');
    assert.equal(view.placement('placed', 0), undefined);

    await server.broker.createTopic('seen', 2, {});
    const kafka = new kafkajs.Kafka({ brokers: [server.bootstrap], logLevel: kafkajs.logLevel.NOTHING });
    const admin = kafka.admin();
    await admin.connect();
    try {
      const cluster = await admin.describeCluster();
      assert.equal(cluster.controller, view.controllerId());
      assert.deepEqual(
        cluster.brokers.map((b) => [b.nodeId, b.host, b.port]),
        view.nodes().map((n) => [n.nodeId, n.host, n.port]),
      );
      const [topic] = (await admin.fetchTopicMetadata({ topics: ['seen'] })).topics;
      assert.deepEqual(
        topic!.partitions.map((p) => [p.partitionId, p.leader, p.replicas, p.isr]),
        [0, 1].map((p) => [p, view.localNodeId, [view.localNodeId], [view.localNodeId]]),
      );
    } finally {
      await admin.disconnect();
    }
  } finally {
    await server.close();
  }
});

/** A cluster's view as the handlers would get it: node 7 leads every partition at epoch 4. */
class ElsewhereView implements MetadataView {
  constructor(private readonly local: MetadataView) {}
  readonly clusterId = 'elsewhere';
  get localNodeId(): number {
    return this.local.localNodeId;
  }
  controllerId(): number {
    return 7;
  }
  nodes(): readonly BrokerNode[] {
    return [...this.local.nodes(), { nodeId: 7, host: '127.0.0.7', port: 19092, rack: 'r2' }];
  }
  node(nodeId: number): BrokerNode | undefined {
    return this.nodes().find((node) => node.nodeId === nodeId);
  }
  placement(topic: string, partition: number): PartitionPlacement | undefined {
    const here = this.local.placement(topic, partition);
    return here && { ...here, leaderId: 7, leaderEpoch: 4, replicas: [7, this.localNodeId], inSyncReplicas: [7] };
  }
}

test('Metadata and DescribeCluster answer what the view says, not the node id', async () => {
  const server = await startTestBroker();
  try {
    await server.broker.createTopic('led-elsewhere', 1, {});
    server.broker.metadata = new ElsewhereView(server.broker.metadata);
    const client = await RawClient.connect(server.port);
    let sent = 0;
    const call = async (apiKey: number, version: number, body: object): Promise<unknown> => {
      client.request(apiKey, version, ++sent, body);
      return RawClient.decode(apiKey, version, (await client.waitForFrames(sent))[sent - 1]!).body;
    };
    try {
      const metadata = (await call(ApiKey.Metadata, 9, {
        topics: [{ name: 'led-elsewhere', topicId: Buffer.alloc(16) }],
        allowAutoTopicCreation: false,
        includeClusterAuthorizedOperations: false,
        includeTopicAuthorizedOperations: false,
      })) as {
        brokers: Array<{ nodeId: number; rack: string | null }>;
        clusterId: string;
        controllerId: number;
        topics: Array<{ partitions: Array<{ leaderId: number; leaderEpoch: number; replicaNodes: number[] }> }>;
      };
      assert.equal(metadata.clusterId, 'elsewhere');
      assert.equal(metadata.controllerId, 7);
      assert.deepEqual(
        metadata.brokers.map((b) => [b.nodeId, b.rack]),
        [
          [server.broker.identity.nodeId, null],
          [7, 'r2'],
        ],
      );
      const [partition] = metadata.topics[0]!.partitions;
      assert.deepEqual(
        [partition!.leaderId, partition!.leaderEpoch, partition!.replicaNodes],
        [7, 4, [7, server.broker.identity.nodeId]],
      );
      const cluster = (await call(ApiKey.DescribeCluster, 0, { includeClusterAuthorizedOperations: false })) as {
        controllerId: number;
        brokers: Array<{ brokerId: number }>;
      };
      assert.equal(cluster.controllerId, 7);
      assert.deepEqual(
        cluster.brokers.map((b) => b.brokerId),
        [server.broker.identity.nodeId, 7],
      );
    } finally {
      client.close();
    }
  } finally {
    await server.close();
  }
});
