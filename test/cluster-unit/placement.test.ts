// Replica placement and leader election (src/cluster/placement.ts, controller-decisions.ts): pure
// functions over a cluster state, so every case is cheap to state exactly.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assignReplicas, electLeader, rackAlternating } from '../../src/cluster/placement.js';
import { ClusterState } from '../../src/cluster/cluster-state.js';
import { decide } from '../../src/cluster/controller-decisions.js';
import { ErrorCode } from '../../src/protocol/generated/index.js';

const brokers = (ids: number[], racks?: string[]) => ids.map((nodeId, i) => ({ nodeId, rack: racks?.[i] ?? null }));

test('replicas: distinct brokers per partition, leaders spread evenly', () => {
  const assigned = assignReplicas(brokers([1, 2, 3]), 0, 6, 3);
  for (const replicas of assigned) assert.equal(new Set(replicas).size, 3);
  const leaders = assigned.map((r) => r[0]);
  assert.deepEqual(
    [1, 2, 3].map((id) => leaders.filter((l) => l === id).length),
    [2, 2, 2],
  );
  assert.throws(() => assignReplicas(brokers([1, 2]), 0, 1, 3), RangeError);
});

test('replicas: rack-aware — with three racks every partition of rf 3 has one replica per rack', () => {
  const list = brokers([1, 2, 3, 4, 5, 6], ['a', 'a', 'b', 'b', 'c', 'c']);
  assert.deepEqual(rackAlternating(list), [1, 3, 5, 2, 4, 6]);
  const rackOf = new Map(list.map((b) => [b.nodeId, b.rack]));
  for (const replicas of assignReplicas(list, 0, 12, 3))
    assert.equal(new Set(replicas.map((id) => rackOf.get(id))).size, 3, `replicas ${replicas}`);
});

test('election: a dead leader is replaced from the ISR in replica order, the epoch bumps, the dead leave', () => {
  const current = { replicas: [1, 2, 3], leader: 1, leaderEpoch: 4, isr: [1, 2, 3] };
  assert.deepEqual(electLeader(current, new Set([2, 3]), false), {
    replicas: [1, 2, 3],
    leader: 2,
    leaderEpoch: 5,
    isr: [2, 3],
  });
  assert.equal(electLeader(current, new Set([1, 2, 3]), false), current, 'nothing changes: same object');
  // A follower gone: it leaves the ISR, the leader and epoch stay.
  assert.deepEqual(electLeader(current, new Set([1, 2]), false), { ...current, isr: [1, 2] });
});

test('election: no live in-sync replica — offline unless unclean; the ISR keeps its last member', () => {
  const current = { replicas: [1, 2, 3], leader: 1, leaderEpoch: 2, isr: [1] };
  const offline = electLeader(current, new Set([2, 3]), false);
  assert.deepEqual(offline, { replicas: [1, 2, 3], leader: -1, leaderEpoch: 3, isr: [1] });
  // The last in-sync replica comes back: it leads again.
  assert.deepEqual(electLeader(offline, new Set([1, 2, 3]), false), {
    replicas: [1, 2, 3],
    leader: 1,
    leaderEpoch: 4,
    isr: [1],
  });
  // Unclean: an out-of-sync live replica leads, alone in the ISR.
  assert.deepEqual(electLeader(current, new Set([3]), true), {
    replicas: [1, 2, 3],
    leader: 3,
    leaderEpoch: 3,
    isr: [3],
  });
});

function stateWith(keys: Record<string, object>): ClusterState {
  const state = new ClusterState();
  let revision = 1;
  for (const [key, value] of Object.entries(keys))
    state.apply({ kind: 'put', key, value: JSON.stringify(value), modRevision: String(revision++) });
  return state;
}

const reg = (nodeId: number, shuttingDown = false) => ({
  nodeId,
  host: '127.0.0.1',
  port: 9000 + nodeId,
  rack: null,
  shuttingDown,
});
const settings = { defaultReplicationFactor: 1, uncleanLeaderElection: false };

test('decisions: a create request gets a topic with rf replicas and an answer, fenced on both keys', () => {
  const state = stateWith({
    'brokers/1': reg(1),
    'brokers/2': reg(2),
    'brokers/3': reg(3),
    'requests/1-a': { kind: 'create', from: 1, topic: 't', partitions: 3, replicationFactor: 3, configs: {} },
    'requests/1-b': { kind: 'create', from: 1, topic: 'u', partitions: 1, replicationFactor: 4, configs: {} },
  });
  const [created, refused] = decide(state, settings);
  const topic = JSON.parse(created!.writes[0]!.put!.value);
  assert.equal(topic.partitions.length, 3);
  for (const p of topic.partitions) assert.deepEqual([...p.isr].sort(), [1, 2, 3]);
  assert.deepEqual(created!.writes[0]!.ifModRevision, { key: 'topics/t', modRevision: '0' });
  assert.equal(JSON.parse(created!.writes[1]!.put!.value).answer.errorCode, ErrorCode.NONE);
  assert.equal(JSON.parse(refused!.writes[0]!.put!.value).answer.errorCode, ErrorCode.INVALID_REPLICATION_FACTOR);
});

test('decisions: a leader dead or shutting down loses its partitions; a current ISR proposal applies', () => {
  const topic = {
    name: 't',
    id: Buffer.alloc(16, 7).toString('base64url'),
    configs: {},
    partitions: [
      { replicas: [1, 2, 3], leader: 1, leaderEpoch: 0, isr: [1, 2, 3] },
      { replicas: [2, 3, 1], leader: 2, leaderEpoch: 0, isr: [2, 3, 1] },
    ],
  };
  const state = stateWith({
    'brokers/2': reg(2),
    'brokers/3': reg(3, true),
    'topics/t': topic,
    'isr/t/1': { leader: 2, leaderEpoch: 0, isr: [2, 1] },
  });
  const [decision] = decide(state, settings);
  const written = JSON.parse(decision!.writes.find((w) => w.put?.key === 'topics/t')!.put!.value);
  assert.deepEqual(written.partitions[0], { replicas: [1, 2, 3], leader: 2, leaderEpoch: 1, isr: [2] });
  assert.deepEqual(written.partitions[1], { replicas: [2, 3, 1], leader: 2, leaderEpoch: 0, isr: [2] });
  assert.ok(decision!.writes.some((w) => w.delete === 'isr/t/1'));
});

test('state: a key that does not parse is reported and ignored', () => {
  const state = new ClusterState();
  state.apply({ kind: 'put', key: 'topics/x', value: '{"name":', modRevision: '3' });
  state.apply({
    kind: 'put',
    key: 'brokers/1',
    value: JSON.stringify({ nodeId: 1, host: 'h', port: 'x' }),
    modRevision: '4',
  });
  assert.equal(state.topics.size, 0);
  assert.equal(state.brokers.size, 0);
  assert.deepEqual(state.unreadable, ['topics/x', 'brokers/1']);
  assert.equal(state.revision, '4');
});
