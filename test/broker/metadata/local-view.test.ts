// LocalMetadataView (src/broker/metadata/local-view.ts) on a real broker: what kcat (librdkafka) sees
// in Metadata is what the view says, partitions added later are placed at once, the advertised port
// learned after binding is the one answered, and the placement asked for on every produced or fetched
// partition is one shared, frozen object rather than a new one per call.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LocalMetadataView } from '../../../src/broker/metadata/local-view.js';
import { runKcat } from '../../support/kcat.js';
import { startTestBroker } from '../../support/test-broker.js';

interface KcatMetadata {
  controllerid: number;
  brokers: Array<{ id: number; name: string }>;
  topics: Array<{
    topic: string;
    partitions: Array<{
      partition: number;
      leader: number;
      replicas: Array<{ id: number }>;
      isrs: Array<{ id: number }>;
    }>;
  }>;
}

test('kcat -L shows the brokers, controller and placements the local view answers, grown partitions too', async () => {
  const server = await startTestBroker();
  try {
    await server.broker.createTopic('shown', 2, {});
    const view = server.broker.metadata;
    assert.ok(view instanceof LocalMetadataView);
    const expected = (partitions: number) =>
      Array.from({ length: partitions }, (_, partition) => {
        const placement = view.placement('shown', partition)!;
        return {
          partition,
          leader: placement.leaderId,
          replicas: placement.replicas.map((id) => ({ id })),
          isrs: placement.inSyncReplicas.map((id) => ({ id })),
        };
      });

    const before = JSON.parse(await runKcat(server.bootstrap, ['-L', '-J', '-t', 'shown'])) as KcatMetadata;
    assert.equal(before.controllerid, view.controllerId());
    assert.deepEqual(
      before.brokers,
      view.nodes().map((node) => ({ id: node.nodeId, name: `${node.host}:${node.port}` })),
    );
    assert.deepEqual(before.topics[0]!.partitions, expected(2));

    assert.equal((await server.broker.createPartitions('shown', 4, false)).errorCode, 0);
    assert.ok(view.placement('shown', 3), 'a partition added is placed at once');
    const after = JSON.parse(await runKcat(server.bootstrap, ['-L', '-J', '-t', 'shown'])) as KcatMetadata;
    assert.deepEqual(after.topics[0]!.partitions, expected(4));
  } finally {
    await server.close();
  }
});

test('one frozen placement serves every partition at an epoch; nodes follow the advertised port', async () => {
  const server = await startTestBroker();
  try {
    await server.broker.createTopic('shared', 3, {});
    const view = server.broker.metadata;
    const first = view.placement('shared', 0)!;
    assert.equal(first.leaderEpoch, server.broker.partitions.get('shared', 0)!.leaderEpoch);
    assert.equal(view.placement('shared', 2), first, 'no object per call');
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.replicas) && Object.isFrozen(first.inSyncReplicas));
    assert.throws(() => (first.replicas as number[]).push(99), TypeError);

    const nodes = view.nodes();
    assert.equal(view.nodes(), nodes, 'the node list is rebuilt only when the address changed');
    assert.equal(nodes[0]!.port, server.port);
    // start-broker.ts fills the advertised port in once a listener on port 0 bound: the view reads it.
    server.broker.config.advertisedPort = server.port + 1;
    assert.equal(view.nodes()[0]!.port, server.port + 1);
    assert.equal(view.node(view.localNodeId)!.port, server.port + 1);
    assert.equal(view.node(view.localNodeId + 1), undefined);
    server.broker.config.advertisedPort = server.port;
  } finally {
    await server.close();
  }
});
