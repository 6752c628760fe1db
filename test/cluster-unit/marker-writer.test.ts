// The cluster's transaction marker writer (src/cluster/marker-writer.ts) on a placement the test sets:
// a partition led here goes to the local writer; one with no leader yet is retried until it has one;
// a deposed coordinator stops retrying; a dead leader's marker fails after the timeout (the coordinator's
// timer tries again); a deleted topic needs no marker. The broker on the other end of WriteTxnMarkers is
// tested for real in test/cluster/transactions.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { MetadataView, PartitionPlacement } from '../../src/broker/metadata/view.js';
import { ClusterMarkerWriter } from '../../src/cluster/marker-writer.js';
import { systemClock } from '../../src/runtime/clock.js';

const LOCAL = 1;

function placement(leaderId: number): PartitionPlacement {
  return { leaderId, leaderEpoch: 0, replicas: [1, 2], inSyncReplicas: [1, 2], offlineReplicas: [] };
}

/** A view whose one partition `t-0` is led by whatever `leader.id` says (undefined: the topic is gone). */
function viewLedBy(leader: { id: number | undefined; port?: number }): MetadataView {
  return {
    clusterId: 'c',
    localNodeId: LOCAL,
    controllerId: () => 1,
    nodes: () => [],
    node: (id) =>
      id === 2 && leader.port !== undefined
        ? { nodeId: 2, host: '127.0.0.1', port: leader.port, rack: null }
        : undefined,
    placement: (topic, partition) =>
      topic === 't' && partition === 0 && leader.id !== undefined ? placement(leader.id) : undefined,
  };
}

function localWriter() {
  const written: string[] = [];
  return {
    written,
    writeTransactionMarker: async (
      topic: string,
      partition: number,
      producerId: number,
      _epoch: number,
      commit: boolean,
    ) => void written.push(`${topic}-${partition} ${producerId} ${commit ? 'commit' : 'abort'}`),
  };
}

test('led here: the local writer takes it; a topic that is gone needs none', async () => {
  const local = localWriter();
  const leader: { id: number | undefined } = { id: LOCAL };
  const writer = new ClusterMarkerWriter(viewLedBy(leader), local, { timeoutMs: 1000, clock: systemClock });
  await writer.writeTransactionMarker('t', 0, 7, 0, true);
  leader.id = undefined;
  await writer.writeTransactionMarker('t', 0, 8, 0, false);
  assert.deepEqual(local.written, ['t-0 7 commit']);
  writer.close();
});

test('no leader yet: retried until this broker leads it; a deposed coordinator stops at once', async () => {
  const local = localWriter();
  const leader = { id: -1 };
  const writer = new ClusterMarkerWriter(viewLedBy(leader), local, { timeoutMs: 10_000, clock: systemClock });
  setTimeout(() => (leader.id = LOCAL), 300);
  const started = Date.now();
  await writer.writeTransactionMarker('t', 0, 7, 0, true);
  assert.ok(Date.now() - started >= 250, 'waited for a leader');
  assert.deepEqual(local.written, ['t-0 7 commit']);

  leader.id = -1;
  let wanted = true;
  setTimeout(() => (wanted = false), 200);
  const deposed = Date.now();
  await assert.rejects(
    writer.writeTransactionMarker('t', 0, 9, 0, true, () => wanted),
    /no longer the coordinator/,
  );
  assert.ok(Date.now() - deposed < 2_000, 'stopped soon after the coordinator lost the transaction');
  assert.deepEqual(local.written, ['t-0 7 commit'], 'the deposed coordinator wrote nothing');
  writer.close();
});

test('a leader that never answers: the marker fails after the timeout, naming why', async () => {
  // A listener that accepts and never answers, as a broker stopped with SIGSTOP would.
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  const port = (silent.address() as { port: number }).port;
  const writer = new ClusterMarkerWriter(viewLedBy({ id: 2, port }), localWriter(), {
    timeoutMs: 1_500,
    clock: systemClock,
  });
  try {
    const started = Date.now();
    await assert.rejects(writer.writeTransactionMarker('t', 0, 7, 0, true), /t-0 not written: broker 2/);
    const took = Date.now() - started;
    assert.ok(took >= 1_400 && took < 4_000, `retried until the timeout, no longer: ${took} ms`);
  } finally {
    writer.close();
    silent.close();
  }
});
