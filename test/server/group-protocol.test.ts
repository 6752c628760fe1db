// The group APIs over the wire with raw frames (our codecs), one connection per member: the
// KIP-394 MEMBER_ID_REQUIRED round-trip, rebalances on join and session expiry, generation fencing,
// static membership (KIP-345), the batched layouts (FindCoordinator v4, LeaveGroup v3+, OffsetFetch
// v8), error codes, limits, offset retention, and what survives a restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { encodeMessage as encodeSubscription } from '../../src/protocol/generated/consumer-protocol-subscription.js';
import { RawClient } from '../support/raw-client.js';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';

const properties = {
  'group.initial.rebalance.delay.ms': '0',
  'group.min.session.timeout.ms': '500',
  'offsets.topic.num.partitions': '2',
  'group.max.size': '3',
  'sluice.groups.max': '20',
};

let server: TestBroker;

before(async () => {
  server = await startTestBroker({ properties });
  await server.broker.createTopic('orders', 4, {});
});
after(async () => {
  await server.close();
});

/** One member's connection: request → decoded response body. */
class Conn {
  private correlationId = 0;
  private constructor(private readonly client: RawClient) {}
  static async open(port = server.port): Promise<Conn> {
    return new Conn(await RawClient.connect(port));
  }
  async call(apiKey: number, version: number, body: object, timeoutMs = 5000): Promise<any> {
    const index = this.client.frames.length;
    this.client.request(apiKey, version, this.correlationId++, body);
    const frames = await this.client.waitForFrames(index + 1, timeoutMs);
    if (frames.length <= index) throw new Error(`no answer to api ${apiKey} v${version} within ${timeoutMs} ms`);
    return RawClient.decode(apiKey, version, frames[index]!).body;
  }
  close(): void {
    this.client.close();
  }
}

function subscription(...topics: string[]): Buffer {
  const body = encodeSubscription(0, { topics, userData: null }).toBuffer();
  const versioned = Buffer.alloc(2 + body.length);
  body.copy(versioned, 2);
  return versioned;
}

const join = (
  groupId: string,
  memberId: string,
  options: {
    instance?: string | null;
    sessionTimeoutMs?: number;
    rebalanceTimeoutMs?: number;
    protocols?: Array<{ name: string; metadata: Buffer }>;
    protocolType?: string;
  } = {},
) => ({
  groupId,
  sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
  rebalanceTimeoutMs: options.rebalanceTimeoutMs ?? 5000,
  memberId,
  groupInstanceId: options.instance ?? null,
  protocolType: options.protocolType ?? 'consumer',
  protocols: options.protocols ?? [{ name: 'range', metadata: subscription('orders') }],
});

/** KIP-394: a v4+ join without an id is answered MEMBER_ID_REQUIRED with the id to use. */
async function joinDynamic(conn: Conn, groupId: string, options: { sessionTimeoutMs?: number } = {}): Promise<any> {
  const first = await conn.call(ApiKey.JoinGroup, 5, join(groupId, '', options));
  assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
  assert.ok(first.memberId.length > 0);
  return conn.call(ApiKey.JoinGroup, 5, join(groupId, first.memberId, options));
}

async function waitFor(what: string, condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('FindCoordinator: v0 group key, v3 transaction key, unknown key type, v4 batched keys', async () => {
  const conn = await Conn.open();
  try {
    const v0 = await conn.call(ApiKey.FindCoordinator, 0, { key: 'g' });
    assert.deepEqual([v0.errorCode, v0.nodeId, v0.host, v0.port], [ErrorCode.NONE, 0, '127.0.0.1', server.port]);
    assert.ok(server.broker.topics.get('__consumer_offsets'), 'the first lookup creates the offsets topic');
    assert.equal(server.broker.topics.get('__consumer_offsets')!.partitions, 2);
    const txn = await conn.call(ApiKey.FindCoordinator, 3, { key: 'my-txn', keyType: 1 });
    assert.deepEqual([txn.errorCode, txn.nodeId, txn.errorMessage], [ErrorCode.NONE, 0, null]);
    const bad = await conn.call(ApiKey.FindCoordinator, 3, { key: 'x', keyType: 7 });
    assert.equal(bad.errorCode, ErrorCode.INVALID_REQUEST);
    const batched = await conn.call(ApiKey.FindCoordinator, 4, { keyType: 0, coordinatorKeys: ['a', 'b'] });
    assert.deepEqual(
      batched.coordinators.map((c: any) => [c.key, c.nodeId, c.port, c.errorCode]),
      [
        ['a', 0, server.port, ErrorCode.NONE],
        ['b', 0, server.port, ErrorCode.NONE],
      ],
    );
  } finally {
    conn.close();
  }
});

test('join, sync, heartbeat; a second member triggers a rebalance; generation fencing', async () => {
  const a = await Conn.open();
  const b = await Conn.open();
  try {
    const joinedA = await joinDynamic(a, 'g1');
    assert.equal(joinedA.errorCode, ErrorCode.NONE);
    assert.equal(joinedA.generationId, 1);
    assert.equal(joinedA.leader, joinedA.memberId);
    assert.equal(joinedA.protocolName, 'range');
    assert.equal(joinedA.members.length, 1);
    const assignmentA = Buffer.from('all-of-it');
    const syncedA = await a.call(ApiKey.SyncGroup, 3, {
      groupId: 'g1',
      generationId: 1,
      memberId: joinedA.memberId,
      assignments: [{ memberId: joinedA.memberId, assignment: assignmentA }],
    });
    assert.equal(syncedA.errorCode, ErrorCode.NONE);
    assert.deepEqual(syncedA.assignment, assignmentA);
    assert.equal(server.broker.groups.groupState('g1'), 'Stable');

    const heartbeat = (conn: Conn, memberId: string, generationId: number) =>
      conn.call(ApiKey.Heartbeat, 3, { groupId: 'g1', generationId, memberId }).then((r) => r.errorCode);
    assert.equal(await heartbeat(a, joinedA.memberId, 1), ErrorCode.NONE);
    assert.equal(await heartbeat(a, joinedA.memberId, 0), ErrorCode.ILLEGAL_GENERATION);
    assert.equal(await heartbeat(a, 'nobody', 1), ErrorCode.UNKNOWN_MEMBER_ID);

    // B's join parks until A rejoins.
    const first = await b.call(ApiKey.JoinGroup, 5, join('g1', ''));
    assert.equal(first.errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    const joiningB = b.call(ApiKey.JoinGroup, 5, join('g1', first.memberId));
    await waitFor('rebalance', () => server.broker.groups.groupState('g1') === 'PreparingRebalance');
    assert.equal(await heartbeat(a, joinedA.memberId, 1), ErrorCode.REBALANCE_IN_PROGRESS);
    const commitDuringRebalance = await a.call(ApiKey.OffsetCommit, 7, {
      groupId: 'g1',
      generationIdOrMemberEpoch: 1,
      memberId: joinedA.memberId,
      topics: [
        {
          name: 'orders',
          partitions: [{ partitionIndex: 0, committedOffset: 5n, committedLeaderEpoch: 0, committedMetadata: 'm' }],
        },
      ],
    });
    assert.equal(
      commitDuringRebalance.topics[0].partitions[0].errorCode,
      ErrorCode.NONE,
      'commits are still accepted while preparing',
    );
    const rejoinedA = await a.call(ApiKey.JoinGroup, 5, join('g1', joinedA.memberId));
    const joinedB = await joiningB;
    assert.equal(rejoinedA.generationId, 2);
    assert.equal(joinedB.generationId, 2);
    assert.equal(rejoinedA.leader, joinedA.memberId, 'the leader stays');
    assert.equal(rejoinedA.members.length, 2);
    assert.equal(joinedB.members.length, 0, 'only the leader gets the member list');

    // Old generation is fenced everywhere.
    assert.equal(await heartbeat(a, joinedA.memberId, 1), ErrorCode.ILLEGAL_GENERATION);
    const staleCommit = await a.call(ApiKey.OffsetCommit, 7, {
      groupId: 'g1',
      generationIdOrMemberEpoch: 1,
      memberId: joinedA.memberId,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 6n }] }],
    });
    assert.equal(staleCommit.topics[0].partitions[0].errorCode, ErrorCode.ILLEGAL_GENERATION);
    const commitBeforeSync = await a.call(ApiKey.OffsetCommit, 7, {
      groupId: 'g1',
      generationIdOrMemberEpoch: 2,
      memberId: joinedA.memberId,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 6n }] }],
    });
    assert.equal(commitBeforeSync.topics[0].partitions[0].errorCode, ErrorCode.REBALANCE_IN_PROGRESS);

    // The follower's SyncGroup waits for the leader's.
    const syncingB = b.call(ApiKey.SyncGroup, 3, {
      groupId: 'g1',
      generationId: 2,
      memberId: joinedB.memberId,
      assignments: [],
    });
    await new Promise((r) => setTimeout(r, 50));
    const syncedLeader = await a.call(ApiKey.SyncGroup, 3, {
      groupId: 'g1',
      generationId: 2,
      memberId: joinedA.memberId,
      assignments: [
        { memberId: joinedA.memberId, assignment: Buffer.from('A') },
        { memberId: joinedB.memberId, assignment: Buffer.from('B') },
      ],
    });
    assert.deepEqual(syncedLeader.assignment, Buffer.from('A'));
    assert.deepEqual((await syncingB).assignment, Buffer.from('B'));
    assert.equal(await heartbeat(b, joinedB.memberId, 2), ErrorCode.NONE);
    const staleSync = await b.call(ApiKey.SyncGroup, 3, {
      groupId: 'g1',
      generationId: 1,
      memberId: joinedB.memberId,
      assignments: [],
    });
    assert.equal(staleSync.errorCode, ErrorCode.ILLEGAL_GENERATION);
    // SyncGroup v4 (flexible) in a Stable group hands back the stored assignment.
    assert.deepEqual(
      (
        await b.call(ApiKey.SyncGroup, 4, {
          groupId: 'g1',
          generationId: 2,
          memberId: joinedB.memberId,
          assignments: [],
        })
      ).assignment,
      Buffer.from('B'),
    );
    // JoinGroup v6 (flexible) of a follower with unchanged metadata: the current generation, no rebalance.
    const sameAgain = await b.call(ApiKey.JoinGroup, 6, join('g1', joinedB.memberId));
    assert.deepEqual([sameAgain.errorCode, sameAgain.generationId], [ErrorCode.NONE, 2]);
    assert.equal(server.broker.groups.groupState('g1'), 'Stable');

    const described = await a.call(ApiKey.DescribeGroups, 5, {
      groups: ['g1', 'unknown-group'],
      includeAuthorizedOperations: true,
    });
    const [g1, unknown] = described.groups;
    assert.equal(g1.groupState, 'Stable');
    assert.equal(g1.protocolType, 'consumer');
    assert.equal(g1.protocolData, 'range');
    assert.equal(g1.members.length, 2);
    assert.equal(g1.members[0].clientId, 'raw-client');
    assert.equal(g1.members[0].clientHost, '/127.0.0.1');
    assert.deepEqual(g1.members.map((m: any) => m.memberAssignment.toString()).sort(), ['A', 'B']);
    assert.notEqual(g1.authorizedOperations, -2147483648);
    assert.deepEqual([unknown.errorCode, unknown.groupState], [ErrorCode.NONE, 'Dead']);

    // LeaveGroup v0 (one member, top-level error) and v3 (batched).
    assert.equal(
      (await b.call(ApiKey.LeaveGroup, 0, { groupId: 'g1', memberId: 'nobody' })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    const left = await b.call(ApiKey.LeaveGroup, 3, {
      groupId: 'g1',
      members: [
        { memberId: joinedB.memberId, groupInstanceId: null },
        { memberId: 'ghost', groupInstanceId: null },
      ],
    });
    assert.equal(left.errorCode, ErrorCode.NONE);
    assert.deepEqual(
      left.members.map((m: any) => m.errorCode),
      [ErrorCode.NONE, ErrorCode.UNKNOWN_MEMBER_ID],
    );
    assert.equal(await heartbeat(a, joinedA.memberId, 2), ErrorCode.REBALANCE_IN_PROGRESS);
    const alone = await a.call(ApiKey.JoinGroup, 5, join('g1', joinedA.memberId));
    assert.equal(alone.generationId, 3);
    assert.equal(alone.members.length, 1);
  } finally {
    a.close();
    b.close();
  }
});

test('a member that stops heartbeating is removed after its session timeout and the group rebalances', async () => {
  const a = await Conn.open();
  const b = await Conn.open();
  try {
    const joinedA = await joinDynamic(a, 'g-expiry', { sessionTimeoutMs: 600 });
    await a.call(ApiKey.SyncGroup, 3, {
      groupId: 'g-expiry',
      generationId: 1,
      memberId: joinedA.memberId,
      assignments: [],
    });
    const joiningB = joinDynamic(b, 'g-expiry', { sessionTimeoutMs: 600 });
    await waitFor('rebalance', () => server.broker.groups.groupState('g-expiry') === 'PreparingRebalance');
    await a.call(ApiKey.JoinGroup, 5, join('g-expiry', joinedA.memberId, { sessionTimeoutMs: 600 }));
    const joinedB = await joiningB;
    await Promise.all([
      a.call(ApiKey.SyncGroup, 3, {
        groupId: 'g-expiry',
        generationId: 2,
        memberId: joinedA.memberId,
        assignments: [],
      }),
      b.call(ApiKey.SyncGroup, 3, {
        groupId: 'g-expiry',
        generationId: 2,
        memberId: joinedB.memberId,
        assignments: [],
      }),
    ]);
    // A keeps heartbeating; B goes silent (as after kill -9).
    const started = Date.now();
    let code: number = ErrorCode.NONE;
    while (code === ErrorCode.NONE && Date.now() - started < 5000) {
      await new Promise((r) => setTimeout(r, 100));
      code = (await a.call(ApiKey.Heartbeat, 3, { groupId: 'g-expiry', generationId: 2, memberId: joinedA.memberId }))
        .errorCode;
    }
    assert.equal(code, ErrorCode.REBALANCE_IN_PROGRESS);
    assert.ok(Date.now() - started >= 500, 'not before the session timeout');
    const rejoined = await a.call(ApiKey.JoinGroup, 5, join('g-expiry', joinedA.memberId, { sessionTimeoutMs: 600 }));
    assert.deepEqual([rejoined.generationId, rejoined.members.length], [3, 1]);
    assert.equal(
      (await b.call(ApiKey.Heartbeat, 3, { groupId: 'g-expiry', generationId: 2, memberId: joinedB.memberId }))
        .errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  } finally {
    a.close();
    b.close();
  }
});

test('static membership: a restarted member gets its assignment back without a rebalance; the old id is fenced', async () => {
  const a = await Conn.open();
  const b = await Conn.open();
  try {
    // Static members skip MEMBER_ID_REQUIRED.
    const firstA = await a.call(ApiKey.JoinGroup, 5, join('g-static', '', { instance: 'instance-a' }));
    assert.deepEqual([firstA.errorCode, firstA.generationId], [ErrorCode.NONE, 1]);
    await a.call(ApiKey.SyncGroup, 3, {
      groupId: 'g-static',
      generationId: 1,
      memberId: firstA.memberId,
      groupInstanceId: 'instance-a',
      assignments: [],
    });
    const joiningB = b.call(ApiKey.JoinGroup, 5, join('g-static', '', { instance: 'instance-b' }));
    await waitFor('rebalance', () => server.broker.groups.groupState('g-static') === 'PreparingRebalance');
    const joinedA = await a.call(ApiKey.JoinGroup, 5, join('g-static', firstA.memberId, { instance: 'instance-a' }));
    const joinedB = await joiningB;
    assert.equal(joinedA.errorCode, ErrorCode.NONE);
    assert.equal(joinedA.generationId, 2);
    const leader = [joinedA, joinedB].find((j) => j.memberId === j.leader)!;
    assert.equal(leader.members.length, 2);
    assert.deepEqual(leader.members.map((m: any) => m.groupInstanceId).sort(), ['instance-a', 'instance-b']);
    const generation = joinedA.generationId;
    const [syncA] = await Promise.all([
      a.call(ApiKey.SyncGroup, 3, {
        groupId: 'g-static',
        generationId: generation,
        memberId: joinedA.memberId,
        groupInstanceId: 'instance-a',
        assignments:
          leader === joinedA
            ? [
                { memberId: joinedA.memberId, assignment: Buffer.from('pa') },
                { memberId: joinedB.memberId, assignment: Buffer.from('pb') },
              ]
            : [],
      }),
      b.call(ApiKey.SyncGroup, 3, {
        groupId: 'g-static',
        generationId: generation,
        memberId: joinedB.memberId,
        groupInstanceId: 'instance-b',
        assignments:
          leader === joinedB
            ? [
                { memberId: joinedA.memberId, assignment: Buffer.from('pa') },
                { memberId: joinedB.memberId, assignment: Buffer.from('pb') },
              ]
            : [],
      }),
    ]);
    assert.deepEqual(syncA.assignment, Buffer.from('pa'));

    // A restarts: a new connection, no member id, the same instance id.
    a.close();
    const a2 = await Conn.open();
    try {
      const rejoined = await a2.call(ApiKey.JoinGroup, 5, join('g-static', '', { instance: 'instance-a' }));
      assert.equal(rejoined.errorCode, ErrorCode.NONE);
      assert.notEqual(rejoined.memberId, joinedA.memberId);
      assert.equal(rejoined.generationId, generation, 'no new generation');
      assert.notEqual(rejoined.leader, rejoined.memberId, 'not told to lead (it would reassign for nothing)');
      assert.equal(server.broker.groups.groupState('g-static'), 'Stable');
      const resynced = await a2.call(ApiKey.SyncGroup, 3, {
        groupId: 'g-static',
        generationId: generation,
        memberId: rejoined.memberId,
        groupInstanceId: 'instance-a',
        assignments: [],
      });
      assert.deepEqual(resynced.assignment, Buffer.from('pa'), 'same partitions back');
      // The others see no rebalance.
      assert.equal(
        (
          await b.call(ApiKey.Heartbeat, 3, {
            groupId: 'g-static',
            generationId: generation,
            memberId: joinedB.memberId,
            groupInstanceId: 'instance-b',
          })
        ).errorCode,
        ErrorCode.NONE,
      );
      // The old incarnation is fenced.
      assert.equal(
        (
          await b.call(ApiKey.Heartbeat, 3, {
            groupId: 'g-static',
            generationId: generation,
            memberId: joinedA.memberId,
            groupInstanceId: 'instance-a',
          })
        ).errorCode,
        ErrorCode.FENCED_INSTANCE_ID,
      );
      const fencedCommit = await b.call(ApiKey.OffsetCommit, 7, {
        groupId: 'g-static',
        generationIdOrMemberEpoch: generation,
        memberId: joinedA.memberId,
        groupInstanceId: 'instance-a',
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 1, committedOffset: 1n }] }],
      });
      assert.equal(fencedCommit.topics[0].partitions[0].errorCode, ErrorCode.FENCED_INSTANCE_ID);
      // LeaveGroup v3 by instance id: a wrong member id is fenced, the right one leaves.
      const left = await a2.call(ApiKey.LeaveGroup, 3, {
        groupId: 'g-static',
        members: [
          { memberId: joinedA.memberId, groupInstanceId: 'instance-a' },
          { memberId: '', groupInstanceId: 'instance-b' },
        ],
      });
      assert.deepEqual(
        left.members.map((m: any) => m.errorCode),
        [ErrorCode.FENCED_INSTANCE_ID, ErrorCode.NONE],
      );
    } finally {
      a2.close();
    }
  } finally {
    b.close();
  }
});

test('join errors: session timeout bounds, protocol mismatch, group.max.size, unknown member, empty group id', async () => {
  const conns = await Promise.all([0, 1, 2, 3].map(() => Conn.open()));
  try {
    const [c0, c1, c2, c3] = conns as [Conn, Conn, Conn, Conn];
    assert.equal(
      (await c0.call(ApiKey.JoinGroup, 5, join('g-err', '', { sessionTimeoutMs: 100 }))).errorCode,
      ErrorCode.INVALID_SESSION_TIMEOUT,
    );
    assert.equal((await c0.call(ApiKey.JoinGroup, 5, join('', ''))).errorCode, ErrorCode.INVALID_GROUP_ID);
    assert.equal(
      (await c0.call(ApiKey.JoinGroup, 5, join('never-seen', 'some-member'))).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    // JoinGroup v3 (before KIP-394): the id is assigned at once.
    const joined = await c0.call(ApiKey.JoinGroup, 3, join('g-err', ''));
    assert.equal(joined.errorCode, ErrorCode.NONE);
    assert.equal(
      (await c1.call(ApiKey.JoinGroup, 5, join('g-err', '', { protocolType: 'connect' }))).errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    assert.equal(
      (
        await c1.call(
          ApiKey.JoinGroup,
          5,
          join('g-err', '', { protocols: [{ name: 'roundrobin', metadata: subscription('orders') }] }),
        )
      ).errorCode,
      ErrorCode.INCONSISTENT_GROUP_PROTOCOL,
    );
    // group.max.size = 3: one member plus two pending ids fill it.
    assert.equal((await c1.call(ApiKey.JoinGroup, 5, join('g-err', ''))).errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    assert.equal((await c2.call(ApiKey.JoinGroup, 5, join('g-err', ''))).errorCode, ErrorCode.MEMBER_ID_REQUIRED);
    assert.equal((await c3.call(ApiKey.JoinGroup, 5, join('g-err', ''))).errorCode, ErrorCode.GROUP_MAX_SIZE_REACHED);
    assert.equal(
      (await c0.call(ApiKey.SyncGroup, 3, { groupId: 'g-err', generationId: 1, memberId: 'ghost', assignments: [] }))
        .errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
  } finally {
    for (const c of conns) c.close();
  }
});

test('offsets: simple commits, metadata and leader epoch kept, unknown partitions refused, OffsetFetch v1/v7/v8, ListGroups filter, DeleteGroups', async () => {
  const conn = await Conn.open();
  try {
    const commit = await conn.call(ApiKey.OffsetCommit, 8, {
      groupId: 'simple',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 42n, committedLeaderEpoch: 3, committedMetadata: 'hello' },
            { partitionIndex: 9, committedOffset: 1n },
          ],
        },
        { name: 'no-such-topic', partitions: [{ partitionIndex: 0, committedOffset: 1n }] },
        {
          name: 'orders',
          partitions: [{ partitionIndex: 1, committedOffset: 7n, committedMetadata: 'x'.repeat(5000) }],
        },
      ],
    });
    assert.deepEqual(
      commit.topics.map((t: any) => t.partitions.map((p: any) => p.errorCode)),
      [
        [ErrorCode.NONE, ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        [ErrorCode.UNKNOWN_TOPIC_OR_PARTITION],
        [ErrorCode.OFFSET_METADATA_TOO_LARGE],
      ],
    );
    // A commit with a generation to a group that does not exist comes from a stale member.
    const stale = await conn.call(ApiKey.OffsetCommit, 2, {
      groupId: 'not-a-group',
      generationIdOrMemberEpoch: 4,
      memberId: 'm',
      retentionTimeMs: -1n,
      topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1n }] }],
    });
    assert.equal(stale.topics[0].partitions[0].errorCode, ErrorCode.ILLEGAL_GENERATION);

    const v1 = await conn.call(ApiKey.OffsetFetch, 1, {
      groupId: 'simple',
      topics: [{ name: 'orders', partitionIndexes: [0, 1] }],
    });
    assert.deepEqual(
      v1.topics[0].partitions.map((p: any) => [p.partitionIndex, p.committedOffset, p.metadata]),
      [
        [0, 42n, 'hello'],
        [1, -1n, ''],
      ],
    );
    const v7 = await conn.call(ApiKey.OffsetFetch, 7, { groupId: 'simple', topics: null, requireStable: true });
    assert.deepEqual(
      v7.topics.map((t: any) => [
        t.name,
        t.partitions.map((p: any) => [p.partitionIndex, p.committedOffset, p.committedLeaderEpoch]),
      ]),
      [['orders', [[0, 42n, 3]]]],
    );
    const v8 = await conn.call(ApiKey.OffsetFetch, 8, {
      groups: [
        { groupId: 'simple', topics: null },
        { groupId: 'nobody', topics: [{ name: 'orders', partitionIndexes: [2] }] },
      ],
      requireStable: false,
    });
    assert.equal(v8.groups.length, 2);
    assert.deepEqual(
      v8.groups[0].topics[0].partitions.map((p: any) => p.committedOffset),
      [42n],
    );
    assert.deepEqual(
      v8.groups[1].topics[0].partitions.map((p: any) => p.committedOffset),
      [-1n],
    );

    const listed = await conn.call(ApiKey.ListGroups, 4, { statesFilter: ['empty'] });
    assert.ok(listed.groups.some((g: any) => g.groupId === 'simple' && g.groupState === 'Empty'));
    assert.ok(!listed.groups.some((g: any) => g.groupState !== 'Empty'));
    const v0 = await conn.call(ApiKey.ListGroups, 0, {});
    assert.ok(v0.groups.some((g: any) => g.groupId === 'simple'));

    const deleted = await conn.call(ApiKey.DeleteGroups, 2, { groupsNames: ['simple', 'nobody'] });
    assert.deepEqual(
      deleted.results.map((r: any) => [r.groupId, r.errorCode]),
      [
        ['simple', ErrorCode.NONE],
        ['nobody', ErrorCode.GROUP_ID_NOT_FOUND],
      ],
    );
    const after = await conn.call(ApiKey.OffsetFetch, 7, { groupId: 'simple', topics: null, requireStable: false });
    assert.deepEqual(after.topics, []);
  } finally {
    conn.close();
  }
});

test('memory bound: invented group ids cannot grow the coordinator past sluice.groups.max', async () => {
  const conn = await Conn.open();
  try {
    // Joins that fail leave nothing behind; reads create nothing.
    for (let i = 0; i < 50; i++) {
      await conn.call(ApiKey.OffsetFetch, 7, { groupId: `invented-${i}`, topics: null, requireStable: false });
      await conn.call(ApiKey.JoinGroup, 3, join(`invented-${i}`, '', { sessionTimeoutMs: 1 }));
    }
    assert.ok(server.broker.groups.counts.groups <= 20);
    const before = server.broker.groups.counts.groups;
    const results: number[] = [];
    for (let i = 0; i < 30; i++) {
      const r = await conn.call(ApiKey.OffsetCommit, 8, {
        groupId: `filler-${i}`,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        topics: [{ name: 'orders', partitions: [{ partitionIndex: 0, committedOffset: 1n }] }],
      });
      results.push(r.topics[0].partitions[0].errorCode);
    }
    assert.equal(server.broker.groups.counts.groups, 20);
    // Empty groups without offsets were evicted to make room; after that, new groups are refused.
    const accepted = results.filter((c) => c === ErrorCode.NONE).length;
    assert.ok(accepted >= 20 - before && accepted < 30);
    assert.ok(results.slice(accepted).every((c) => c === ErrorCode.COORDINATOR_NOT_AVAILABLE));
    for (let i = 0; i < 30; i++) await conn.call(ApiKey.DeleteGroups, 2, { groupsNames: [`filler-${i}`] });
  } finally {
    conn.close();
  }
});

test('offset retention: an expired commit is removed (tombstone) and stays removed after a restart', async () => {
  const own = await startTestBroker({ properties });
  let current = own;
  try {
    await current.broker.createTopic('t', 1, {});
    const conn = await Conn.open(current.port);
    // OffsetCommit v2 with retention_time_ms: 1 ms (expires at once) and -1 (broker default: 7 days).
    await conn.call(ApiKey.OffsetCommit, 2, {
      groupId: 'short',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      retentionTimeMs: 1n,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 3n }] }],
    });
    await conn.call(ApiKey.OffsetCommit, 2, {
      groupId: 'long',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      retentionTimeMs: -1n,
      topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: 4n }] }],
    });
    conn.close();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(await current.broker.groups.expireOffsets(), 1);
    assert.equal(current.broker.groups.groupState('short'), undefined, 'an Empty group without offsets is removed');
    await current.stop();
    current = await startTestBroker({ dataDir: own.dataDir, properties });
    assert.equal(current.broker.groups.fetchOffsets('short', null).topics.length, 0);
    assert.equal(current.broker.groups.fetchOffsets('long', null).topics[0]!.partitions[0]!.offset, 4);
  } finally {
    await current.close();
  }
});

test('a group survives a restart: members keep their ids and generation, committed offsets exact', async () => {
  const own = await startTestBroker({ properties });
  let current = own;
  try {
    await current.broker.createTopic('t', 2, {});
    let conn = await Conn.open(current.port);
    const joined = await joinDynamic(conn, 'restarted', { sessionTimeoutMs: 5000 });
    await conn.call(ApiKey.SyncGroup, 3, {
      groupId: 'restarted',
      generationId: 1,
      memberId: joined.memberId,
      assignments: [{ memberId: joined.memberId, assignment: Buffer.from('both') }],
    });
    const acknowledged = await conn.call(ApiKey.OffsetCommit, 7, {
      groupId: 'restarted',
      generationIdOrMemberEpoch: 1,
      memberId: joined.memberId,
      topics: [
        {
          name: 't',
          partitions: [
            { partitionIndex: 0, committedOffset: 11n, committedLeaderEpoch: 0, committedMetadata: 'meta' },
            { partitionIndex: 1, committedOffset: 12n },
          ],
        },
      ],
    });
    assert.ok(acknowledged.topics[0].partitions.every((p: any) => p.errorCode === ErrorCode.NONE));
    conn.close();
    await current.stop();

    current = await startTestBroker({ dataDir: own.dataDir, properties });
    conn = await Conn.open(current.port);
    assert.equal(current.broker.groups.groupState('restarted'), 'Stable');
    assert.equal(
      (await conn.call(ApiKey.Heartbeat, 3, { groupId: 'restarted', generationId: 1, memberId: joined.memberId }))
        .errorCode,
      ErrorCode.NONE,
    );
    const synced = await conn.call(ApiKey.SyncGroup, 3, {
      groupId: 'restarted',
      generationId: 1,
      memberId: joined.memberId,
      assignments: [],
    });
    assert.deepEqual(synced.assignment, Buffer.from('both'));
    const fetched = await conn.call(ApiKey.OffsetFetch, 7, {
      groupId: 'restarted',
      topics: null,
      requireStable: false,
    });
    assert.deepEqual(
      fetched.topics[0].partitions.map((p: any) => [p.partitionIndex, p.committedOffset, p.metadata]),
      [
        [0, 11n, 'meta'],
        [1, 12n, ''],
      ],
    );
    conn.close();
  } finally {
    await current.close();
  }
});

test('commits racing the creation of __consumer_offsets all succeed (they wait for its logs to open)', async () => {
  const own = await startTestBroker({ properties });
  try {
    await own.broker.createTopic('t', 1, {});
    const client = await RawClient.connect(own.port);
    for (let i = 0; i < 20; i++) {
      client.request(ApiKey.OffsetCommit, 7, i, {
        groupId: `race-${i}`,
        generationIdOrMemberEpoch: -1,
        memberId: '',
        topics: [{ name: 't', partitions: [{ partitionIndex: 0, committedOffset: BigInt(i) }] }],
      });
    }
    const frames = await client.waitForFrames(20);
    client.close();
    assert.deepEqual(
      frames.map((f) => RawClient.decode(ApiKey.OffsetCommit, 7, f).body.topics[0].partitions[0].errorCode),
      new Array(20).fill(ErrorCode.NONE),
    );
  } finally {
    await own.close();
  }
});

test('group.initial.rebalance.delay.ms: members arriving within the delay land in the first generation together', async () => {
  const own = await startTestBroker({ properties: { ...properties, 'group.initial.rebalance.delay.ms': '300' } });
  const [a, b] = [await Conn.open(own.port), await Conn.open(own.port)];
  try {
    const started = Date.now();
    const joiningA = a.call(ApiKey.JoinGroup, 3, join('delayed', ''));
    await new Promise((r) => setTimeout(r, 100));
    const joinedB = await b.call(ApiKey.JoinGroup, 3, join('delayed', ''));
    const joinedA = await joiningA;
    assert.ok(Date.now() - started >= 300, 'waited for the delay');
    assert.deepEqual([joinedA.generationId, joinedB.generationId], [1, 1]);
    assert.equal([joinedA, joinedB].find((j) => j.memberId === j.leader)!.members.length, 2);
  } finally {
    a.close();
    b.close();
    await own.close();
  }
});

test('rebalance timeout: a member that does not rejoin is removed; a leader that never syncs is removed', async () => {
  const [a, b] = [await Conn.open(), await Conn.open()];
  try {
    const options = { rebalanceTimeoutMs: 600, sessionTimeoutMs: 10_000 };
    const joinedA = await a.call(ApiKey.JoinGroup, 3, join('slow', '', options));
    await a.call(ApiKey.SyncGroup, 3, {
      groupId: 'slow',
      generationId: 1,
      memberId: joinedA.memberId,
      assignments: [],
    });
    // B joins; A (alive, heartbeating within its session) never rejoins.
    const started = Date.now();
    const joinedB = await b.call(ApiKey.JoinGroup, 3, join('slow', '', options));
    assert.ok(Date.now() - started >= 550, 'waited for the rebalance timeout');
    assert.deepEqual([joinedB.generationId, joinedB.members.length, joinedB.leader], [2, 1, joinedB.memberId]);
    assert.equal(
      (await a.call(ApiKey.Heartbeat, 3, { groupId: 'slow', generationId: 1, memberId: joinedA.memberId })).errorCode,
      ErrorCode.UNKNOWN_MEMBER_ID,
    );
    // B, the leader, never sends SyncGroup: it is removed after the rebalance timeout.
    await waitFor(
      'group emptied',
      () =>
        server.broker.groups.groupState('slow') === 'Empty' || server.broker.groups.groupState('slow') === undefined,
      3000,
    );
  } finally {
    a.close();
    b.close();
  }
});

test('OffsetDelete semantics (coordinator; no OffsetDelete schema in src/protocol/schemas, so no handler yet)', async () => {
  const conn = await Conn.open();
  try {
    await conn.call(ApiKey.OffsetCommit, 8, {
      groupId: 'od',
      generationIdOrMemberEpoch: -1,
      memberId: '',
      topics: [
        {
          name: 'orders',
          partitions: [
            { partitionIndex: 0, committedOffset: 5n },
            { partitionIndex: 1, committedOffset: 6n },
          ],
        },
      ],
    });
    const joined = await joinDynamic(conn, 'od');
    await conn.call(ApiKey.SyncGroup, 3, {
      groupId: 'od',
      generationId: joined.generationId,
      memberId: joined.memberId,
      assignments: [],
    });
    const subscribed = await server.broker.groups.deleteOffsets('od', [{ name: 'orders', partitions: [0] }]);
    assert.deepEqual(subscribed.topics[0]!.partitions, [
      { partition: 0, errorCode: ErrorCode.GROUP_SUBSCRIBED_TO_TOPIC },
    ]);
    await conn.call(ApiKey.LeaveGroup, 3, {
      groupId: 'od',
      members: [{ memberId: joined.memberId, groupInstanceId: null }],
    });
    const deleted = await server.broker.groups.deleteOffsets('od', [{ name: 'orders', partitions: [0] }]);
    assert.deepEqual(
      [deleted.errorCode, deleted.topics[0]!.partitions[0]!.errorCode],
      [ErrorCode.NONE, ErrorCode.NONE],
    );
    assert.deepEqual(
      server.broker.groups.fetchOffsets('od', null).topics[0]!.partitions.map((p) => p.partition),
      [1],
    );
    assert.equal((await server.broker.groups.deleteOffsets('nope', [])).errorCode, ErrorCode.GROUP_ID_NOT_FOUND);
  } finally {
    conn.close();
  }
});
