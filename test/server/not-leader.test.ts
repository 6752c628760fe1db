// A partition the metadata view says another broker leads — or that no broker leads — is answered
// NOT_LEADER_OR_FOLLOWER by Produce, Fetch, ListOffsets and OffsetForLeaderEpoch, per partition, beside
// partitions of the same request that this broker leads and serves; nothing is appended to it. Single
// node never gets here (it leads everything), so these tests hand the broker a view as a cluster would:
// SplitView below, our own MetadataView, in which node 7 leads some partitions.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { BrokerNode, MetadataView, PartitionPlacement } from '../../src/broker/metadata/view.js';
import { ErrorCode } from '../../src/protocol/generated/error-codes.js';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const OTHER: BrokerNode = { nodeId: 7, host: '127.0.0.7', port: 19092, rack: 'r2' };
const OTHER_EPOCH = 4;
const NO_LEADER = -1;

/** The local view, except where `leaderOf` names another leader: that broker (or none, -1) leads the
 *  partition at epoch 4, with this broker as a follower. Node 7 is a live broker of the cluster. */
class SplitView implements MetadataView {
  constructor(
    private readonly local: MetadataView,
    private readonly leaderOf: (topic: string, partition: number) => number | undefined,
  ) {}
  get clusterId(): string {
    return this.local.clusterId;
  }
  get localNodeId(): number {
    return this.local.localNodeId;
  }
  controllerId(): number {
    return this.local.controllerId();
  }
  nodes(): readonly BrokerNode[] {
    return [...this.local.nodes(), OTHER];
  }
  node(nodeId: number): BrokerNode | undefined {
    return this.nodes().find((node) => node.nodeId === nodeId);
  }
  placement(topic: string, partition: number): PartitionPlacement | undefined {
    const here = this.local.placement(topic, partition);
    const leaderId = this.leaderOf(topic, partition);
    if (here === undefined || leaderId === undefined) return here;
    const replicas = [OTHER.nodeId, this.localNodeId];
    return {
      leaderId,
      leaderEpoch: OTHER_EPOCH,
      replicas,
      inSyncReplicas: leaderId === NO_LEADER ? [] : [leaderId],
      offlineReplicas: [],
    };
  }
}

const TOPIC = 'split';
/** Led here, but at epoch 4 (as after leader changes in a cluster): for the leader-epoch checks. */
const EPOCHS = 'epochs';
/** Partition 0: this broker leads. 1: node 7 leads. 2: nobody leads. */
const splitLeaders = (topic: string, partition: number): number | undefined =>
  topic === EPOCHS
    ? server.broker.metadata.localNodeId
    : topic !== TOPIC || partition === 0
      ? undefined
      : partition === 1
        ? OTHER.nodeId
        : NO_LEADER;

let server: TestBroker;
let client: RawClient;
let correlationId = 0;

before(async () => {
  server = await startTestBroker();
  await server.broker.createTopic(TOPIC, 3, {});
  await server.broker.createTopic(EPOCHS, 1, {});
  server.broker.metadata = new SplitView(server.broker.metadata, splitLeaders);
  client = await RawClient.connect(server.port);
});
after(async () => {
  client.close();
  await server.close();
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function call(apiKey: number, version: number, body: object): Promise<any> {
  correlationId += 1;
  client.request(apiKey, version, correlationId, body);
  const frames = await client.waitForFrames(correlationId, 10_000);
  assert.equal(frames.length, correlationId, 'the broker answered (and kept the connection)');
  return RawClient.decode(apiKey, version, frames[correlationId - 1]!).body;
}

/** The answers of one topic, by their partition field (`index`, `partition` or `partitionIndex`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
function byPartition(answers: any[], key: string): Map<number, any> {
  return new Map(answers.map((answer) => [answer[key] as number, answer]));
}

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function produce(version: number): Promise<{ answers: Map<number, any>; nodeEndpoints: unknown[] }> {
  const partitionData = [];
  for (const index of [0, 1, 2]) {
    const records = await encodeRecordBatch({ records: [{ value: Buffer.from(`v${version}-p${index}`) }] });
    partitionData.push({ index, records });
  }
  const body = await call(ApiKey.Produce, version, {
    acks: -1,
    timeoutMs: 5000,
    topicData: [{ name: TOPIC, partitionData }],
  });
  assert.equal(body.responses.length, 1);
  return { answers: byPartition(body.responses[0].partitionResponses, 'index'), nodeEndpoints: body.nodeEndpoints };
}

test('Produce v10: NOT_LEADER_OR_FOLLOWER, the leader and its endpoint; the led partition is appended', async () => {
  const { answers, nodeEndpoints } = await produce(10);
  assert.equal(answers.get(0).errorCode, ErrorCode.NONE);
  assert.equal(answers.get(0).baseOffset, 0n);
  assert.equal(answers.get(1).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal(answers.get(1).baseOffset, -1n);
  assert.deepEqual(answers.get(1).currentLeader, { leaderId: OTHER.nodeId, leaderEpoch: OTHER_EPOCH });
  assert.equal(answers.get(2).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.deepEqual(answers.get(2).currentLeader, { leaderId: NO_LEADER, leaderEpoch: OTHER_EPOCH });
  // Only a leader that exists has an endpoint (KIP-951).
  assert.deepEqual(nodeEndpoints, [{ nodeId: OTHER.nodeId, host: OTHER.host, port: OTHER.port, rack: OTHER.rack }]);
  assert.equal(server.broker.partitions.get(TOPIC, 0)!.logEndOffset, 1);
  assert.equal(server.broker.partitions.get(TOPIC, 1)!.logEndOffset, 0, 'nothing appended where node 7 leads');
  assert.equal(server.broker.partitions.get(TOPIC, 2)!.logEndOffset, 0, 'nothing appended where no one leads');
});

test('Produce v9 (no current_leader yet): NOT_LEADER_OR_FOLLOWER per partition', async () => {
  const { answers, nodeEndpoints } = await produce(9);
  assert.deepEqual(nodeEndpoints, [], 'v9 has no node_endpoints');
  assert.deepEqual(
    [0, 1, 2].map((p) => answers.get(p).errorCode),
    [ErrorCode.NONE, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_LEADER_OR_FOLLOWER],
  );
  assert.equal(answers.get(0).baseOffset, 1n);
  assert.equal(server.broker.partitions.get(TOPIC, 1)!.logEndOffset, 0);
});

// eslint-disable-next-line @typescript-eslint/no-explicit-any
async function fetch(version: number): Promise<Map<number, any>> {
  const body = await call(ApiKey.Fetch, version, {
    replicaId: -1,
    maxWaitMs: 100,
    minBytes: 0,
    maxBytes: 1 << 20,
    isolationLevel: 0,
    sessionId: 0,
    sessionEpoch: -1,
    topics: [
      {
        topic: TOPIC,
        partitions: [0, 1, 2].map((partition) => ({
          partition,
          currentLeaderEpoch: -1,
          fetchOffset: 0n,
          logStartOffset: -1n,
          partitionMaxBytes: 1 << 20,
        })),
      },
    ],
    forgottenTopicsData: [],
    rackId: '',
  });
  assert.equal(body.errorCode, ErrorCode.NONE);
  assert.equal(body.responses.length, 1);
  return byPartition(body.responses[0].partitions, 'partitionIndex');
}

test('Fetch v12: NOT_LEADER_OR_FOLLOWER with the current leader, no records; the led partition is read', async () => {
  const answers = await fetch(12);
  assert.equal(answers.get(0).errorCode, ErrorCode.NONE);
  assert.equal(answers.get(0).highWatermark, 2n);
  assert.ok(answers.get(0).records.length > 0);
  for (const partition of [1, 2]) {
    const answer = answers.get(partition);
    assert.equal(answer.errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, `partition ${partition}`);
    assert.equal(answer.highWatermark, -1n);
    assert.equal(answer.records?.length ?? 0, 0);
  }
  assert.deepEqual(answers.get(1).currentLeader, { leaderId: OTHER.nodeId, leaderEpoch: OTHER_EPOCH });
  assert.deepEqual(answers.get(2).currentLeader, { leaderId: NO_LEADER, leaderEpoch: OTHER_EPOCH });
});

test('Fetch v12 (KIP-320): an older leader epoch is FENCED_LEADER_EPOCH, a newer UNKNOWN_LEADER_EPOCH', async () => {
  const errorAt = async (currentLeaderEpoch: number) => {
    const body = await call(ApiKey.Fetch, 12, {
      replicaId: -1,
      maxWaitMs: 0,
      minBytes: 0,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      sessionId: 0,
      sessionEpoch: -1,
      topics: [
        {
          topic: EPOCHS,
          partitions: [
            { partition: 0, currentLeaderEpoch, fetchOffset: 0n, logStartOffset: -1n, partitionMaxBytes: 1 << 20 },
          ],
        },
      ],
      forgottenTopicsData: [],
      rackId: '',
    });
    const answer = body.responses[0].partitions[0];
    return { errorCode: answer.errorCode, currentLeader: answer.currentLeader };
  };
  const fenced = await errorAt(OTHER_EPOCH - 2);
  assert.equal(fenced.errorCode, ErrorCode.FENCED_LEADER_EPOCH);
  assert.deepEqual(fenced.currentLeader, { leaderId: server.broker.metadata.localNodeId, leaderEpoch: OTHER_EPOCH });
  assert.equal((await errorAt(OTHER_EPOCH + 1)).errorCode, ErrorCode.UNKNOWN_LEADER_EPOCH);
  assert.equal((await errorAt(OTHER_EPOCH)).errorCode, ErrorCode.NONE);
  assert.equal((await errorAt(-1)).errorCode, ErrorCode.NONE, 'no epoch named: no check');
});

test('ListOffsets v4+ and OffsetForLeaderEpoch (KIP-320): the same leader-epoch checks', async () => {
  const listAt = async (currentLeaderEpoch: number) =>
    (
      await call(ApiKey.ListOffsets, 7, {
        replicaId: -1,
        isolationLevel: 0,
        topics: [{ name: EPOCHS, partitions: [{ partitionIndex: 0, currentLeaderEpoch, timestamp: -1n }] }],
      })
    ).topics[0].partitions[0].errorCode;
  const epochAt = async (currentLeaderEpoch: number) =>
    (
      await call(ApiKey.OffsetForLeaderEpoch, 4, {
        replicaId: -1,
        topics: [{ topic: EPOCHS, partitions: [{ partition: 0, currentLeaderEpoch, leaderEpoch: 0 }] }],
      })
    ).topics[0].partitions[0].errorCode;
  for (const ask of [listAt, epochAt]) {
    assert.equal(await ask(OTHER_EPOCH - 1), ErrorCode.FENCED_LEADER_EPOCH);
    assert.equal(await ask(OTHER_EPOCH + 3), ErrorCode.UNKNOWN_LEADER_EPOCH);
    assert.equal(await ask(OTHER_EPOCH), ErrorCode.NONE);
    assert.equal(await ask(-1), ErrorCode.NONE);
  }
});

test('Fetch v11: NOT_LEADER_OR_FOLLOWER per partition', async () => {
  const answers = await fetch(11);
  assert.deepEqual(
    [0, 1, 2].map((p) => answers.get(p).errorCode),
    [ErrorCode.NONE, ErrorCode.NOT_LEADER_OR_FOLLOWER, ErrorCode.NOT_LEADER_OR_FOLLOWER],
  );
});

test('ListOffsets: NOT_LEADER_OR_FOLLOWER per partition; the led partition answers its offset', async () => {
  for (const version of [1, 4, 7, 11]) {
    const body = await call(ApiKey.ListOffsets, version, {
      replicaId: -1,
      isolationLevel: 0,
      topics: [
        {
          name: TOPIC,
          partitions: [0, 1, 2].map((partitionIndex) => ({ partitionIndex, timestamp: -1n, currentLeaderEpoch: -1 })),
        },
      ],
      timeoutMs: 0,
    });
    const answers = byPartition(body.topics[0].partitions, 'partitionIndex');
    assert.equal(answers.get(0).errorCode, ErrorCode.NONE, `v${version}`);
    assert.equal(answers.get(0).offset, 2n, `v${version}`);
    for (const partition of [1, 2]) {
      assert.equal(answers.get(partition).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER, `v${version} p${partition}`);
      assert.equal(answers.get(partition).offset, -1n);
    }
  }
});

test('OffsetForLeaderEpoch: NOT_LEADER_OR_FOLLOWER per partition; the led partition answers its end', async () => {
  const body = await call(ApiKey.OffsetForLeaderEpoch, 4, {
    replicaId: -1,
    topics: [
      {
        topic: TOPIC,
        partitions: [0, 1, 2].map((partition) => ({ partition, currentLeaderEpoch: -1, leaderEpoch: 0 })),
      },
    ],
  });
  const answers = byPartition(body.topics[0].partitions, 'partition');
  assert.equal(answers.get(0).errorCode, ErrorCode.NONE);
  assert.equal(answers.get(0).endOffset, 2n);
  assert.equal(answers.get(1).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
  assert.equal(answers.get(2).errorCode, ErrorCode.NOT_LEADER_OR_FOLLOWER);
});

test('Metadata: the leader the view names, and LEADER_NOT_AVAILABLE where it names none', async () => {
  const body = await call(ApiKey.Metadata, 9, {
    topics: [{ name: TOPIC }],
    allowAutoTopicCreation: false,
    includeClusterAuthorizedOperations: false,
    includeTopicAuthorizedOperations: false,
  });
  const local = server.broker.identity.nodeId;
  const answers = byPartition(body.topics[0].partitions, 'partitionIndex');
  const summary = (p: number) => {
    const { errorCode, leaderId, leaderEpoch, replicaNodes, isrNodes } = answers.get(p);
    return { errorCode, leaderId, leaderEpoch, replicaNodes, isrNodes };
  };
  assert.deepEqual(summary(0), {
    errorCode: 0,
    leaderId: local,
    leaderEpoch: 0,
    replicaNodes: [local],
    isrNodes: [local],
  });
  assert.deepEqual(summary(1), {
    errorCode: 0,
    leaderId: OTHER.nodeId,
    leaderEpoch: OTHER_EPOCH,
    replicaNodes: [OTHER.nodeId, local],
    isrNodes: [OTHER.nodeId],
  });
  assert.deepEqual(summary(2), {
    errorCode: ErrorCode.LEADER_NOT_AVAILABLE,
    leaderId: NO_LEADER,
    leaderEpoch: OTHER_EPOCH,
    replicaNodes: [OTHER.nodeId, local],
    isrNodes: [],
  });
});

test("FindCoordinator: the leader of the key's internal partition, else COORDINATOR_NOT_AVAILABLE", async () => {
  const split = server.broker.metadata;
  try {
    server.broker.metadata = new SplitView(split, (topic) =>
      topic === '__consumer_offsets' ? OTHER.nodeId : topic === '__transaction_state' ? NO_LEADER : undefined,
    );
    const groups = await call(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['g1', 'g2'] });
    assert.deepEqual(
      groups.coordinators.map((c: { [field: string]: unknown }) => [c.key, c.errorCode, c.nodeId, c.host, c.port]),
      [
        ['g1', ErrorCode.NONE, OTHER.nodeId, OTHER.host, OTHER.port],
        ['g2', ErrorCode.NONE, OTHER.nodeId, OTHER.host, OTHER.port],
      ],
    );
    const transactions = await call(ApiKey.FindCoordinator, 3, { key: 'tx', keyType: 1 });
    assert.equal(transactions.errorCode, ErrorCode.COORDINATOR_NOT_AVAILABLE);
    assert.equal(transactions.nodeId, -1);
  } finally {
    server.broker.metadata = split;
  }
  // Back on the split view, which leaves the internal topics to this broker.
  const local = await call(ApiKey.FindCoordinator, 3, { key: 'tx', keyType: 1 });
  assert.equal(local.errorCode, ErrorCode.NONE);
  assert.equal(local.nodeId, server.broker.identity.nodeId);
  assert.equal(local.port, server.port);
});
