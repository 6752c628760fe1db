// Cluster-wide admin and the in-sync replica rules: DeleteTopics and CreatePartitions go through the
// controller and reach every broker; acks=all is refused below min.insync.replicas while acks=1 is
// taken; and `sluice cluster up` starts a working cluster that Ctrl-C stops.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { ApiKey, ErrorCode } from '../../src/protocol/generated/index.js';
import { TestCluster } from '../support/cluster.js';
import { RawClient } from '../support/raw-client.js';
import { freePort, mainScript, untilConnected, waitFor } from '../support/sluice-process.js';

const { Kafka, logLevel } = kafkajs;

test('CreatePartitions and DeleteTopics on one broker reach the whole cluster', { timeout: 120_000 }, async () => {
  const cluster = await TestCluster.start(3);
  try {
    const admin = cluster.kafka().admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic: 'grow', numPartitions: 2, replicationFactor: 2 }],
      waitForLeaders: true,
    });
    await admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 5 }] });
    const grown = await cluster.partitions('grow');
    assert.equal(grown.length, 5);
    for (const p of grown) assert.equal(p.replicas.length, 2);
    const shrink = await admin.createPartitions({ topicPartitions: [{ topic: 'grow', count: 3 }] }).then(
      () => 'grown',
      (error: { type?: string }) => error.type ?? String(error),
    );
    assert.equal(shrink, 'INVALID_PARTITIONS');
    await admin.deleteTopics({ topics: ['grow'] });
    await admin.disconnect();
    // Every broker, asked on its own, no longer has it.
    for (const b of cluster.brokers) {
      const own = new Kafka({ brokers: [`127.0.0.1:${b.port}`], logLevel: logLevel.NOTHING }).admin();
      await own.connect();
      await waitFor(
        `broker ${b.nodeId} without the topic`,
        async () => !(await own.listTopics()).includes('grow'),
        20_000,
      );
      await own.disconnect();
    }
  } finally {
    await cluster.stop();
  }
});

test(
  'min.insync.replicas=2 with one in-sync replica left: acks=all is NOT_ENOUGH_REPLICAS, acks=1 is taken',
  { timeout: 120_000 },
  async () => {
    const cluster = await TestCluster.start(3, ['min.insync.replicas=2']);
    try {
      const admin = cluster.kafka().admin();
      await admin.connect();
      await admin.createTopics({
        topics: [{ topic: 'isr', numPartitions: 1, replicationFactor: 3 }],
        waitForLeaders: true,
      });
      await admin.disconnect();
      const [p] = await cluster.partitions('isr');
      for (const id of p!.replicas.filter((r) => r !== p!.leader)) await cluster.kill(id);
      await waitFor(
        'the ISR down to the leader',
        async () => (await cluster.partitions('isr'))[0]!.isr.length === 1,
        30_000,
        200,
      );
      const kafka = new Kafka({
        brokers: [`127.0.0.1:${cluster.broker(p!.leader).port}`],
        logLevel: logLevel.NOTHING,
        retry: { retries: 0 },
      });
      const producer = kafka.producer({ retry: { retries: 0 } });
      await producer.connect();
      const refused = await producer.send({ topic: 'isr', acks: -1, messages: [{ value: 'all' }] }).then(
        () => 'acknowledged',
        (error: { type?: string; cause?: { type?: string } }) => error.type ?? error.cause?.type ?? String(error),
      );
      assert.equal(refused, 'NOT_ENOUGH_REPLICAS');
      const [taken] = await producer.send({ topic: 'isr', acks: 1, messages: [{ value: 'one' }] });
      assert.equal(taken!.errorCode, 0);
      await producer.disconnect();
    } finally {
      await cluster.stop();
    }
  },
);

test(
  'sluice cluster up --brokers 3: etcd and three brokers that kcat sees; SIGINT stops all of them',
  { timeout: 120_000 },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-cluster-up-'));
    const basePort = await freePort();
    const etcdPort = await freePort();
    const child = spawn(
      process.execPath,
      [
        mainScript,
        'cluster',
        'up',
        '--brokers',
        '3',
        '--base-port',
        String(basePort),
        '--etcd-port',
        String(etcdPort),
        '--data-dir',
        dataDir,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    try {
      const admin = new Kafka({
        brokers: [`127.0.0.1:${basePort}`],
        logLevel: logLevel.NOTHING,
        retry: { retries: 20 },
      }).admin();
      await waitFor(
        'three brokers',
        async () => {
          try {
            await admin.connect();
            return (await admin.describeCluster()).brokers.length === 3;
          } catch {
            return false;
          }
        },
        60_000,
        300,
      );
      await admin.disconnect();
      child.kill('SIGINT');
      assert.equal(await exited, 0, output.slice(-3000));
      assert.match(output, /\[broker-2\].*shutdown complete/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

test(
  'producer ids are unique across the cluster: InitProducerId on every broker, before and after a restart',
  { timeout: 120_000 },
  async () => {
    const cluster = await TestCluster.start(3);
    try {
      const ids: number[] = [];
      const ask = async (port: number) => {
        const client = await untilConnected(port, 30_000);
        for (let i = 1; i <= 3; i++)
          client.request(ApiKey.InitProducerId, 1, i, { transactionalId: null, transactionTimeoutMs: 60_000 });
        const frames = await client.waitForFrames(3, 10_000);
        client.close();
        for (const frame of frames) {
          const { body } = RawClient.decode(ApiKey.InitProducerId, 1, frame);
          assert.equal(body.errorCode, ErrorCode.NONE);
          ids.push(Number(body.producerId));
        }
      };
      for (const b of cluster.brokers) await ask(b.port);
      await cluster.kill(1);
      cluster.restart(1);
      await cluster.untilBrokers(3, 60_000);
      for (const b of cluster.brokers) await ask(b.port);
      assert.equal(new Set(ids).size, ids.length, `ids ${ids.join(',')}`);
    } finally {
      await cluster.stop();
    }
  },
);

test(
  'two idempotent kcat producers through different brokers, same partition: both sets of messages are there',
  { timeout: 120_000 },
  async () => {
    const cluster = await TestCluster.start(3);
    try {
      await cluster.createTopic('two');
      for (const [index, b] of cluster.brokers.slice(0, 2).entries()) {
        const kcat = spawn(
          'kcat',
          [
            '-P',
            '-b',
            `127.0.0.1:${b.port}`,
            '-t',
            'two',
            '-p',
            '0',
            '-X',
            'acks=all',
            '-X',
            'enable.idempotence=true',
          ],
          {
            stdio: ['pipe', 'ignore', 'pipe'],
          },
        );
        kcat.stdin.end(Array.from({ length: 100 }, (_, i) => `p${index}-${i}`).join('\n') + '\n');
        assert.equal(await new Promise((r) => kcat.once('exit', r)), 0);
      }
      const seen = new Set(await cluster.readAll('two', 200));
      assert.equal(seen.size, 200);
    } finally {
      await cluster.stop();
    }
  },
);

/** `sluice cluster status` as a process: its exit code and what it printed. */
function clusterStatus(bootstrap: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [mainScript, 'cluster', 'status', '--bootstrap', bootstrap], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out }));
  });
}

test(
  'sluice cluster status: brokers and controller; a killed broker shows as under-replicated, exit 1',
  {
    timeout: 180_000,
  },
  async () => {
    const cluster = await TestCluster.start(3);
    try {
      await cluster.createTopic('watched', 3, 3);
      const healthy = await clusterStatus(cluster.bootstrap[0]!);
      assert.equal(healthy.code, 0, healthy.out);
      for (const b of cluster.brokers)
        assert.match(healthy.out, new RegExp(`^  ${b.nodeId}  127\\.0\\.0\\.1:${b.port}`, 'm'));
      assert.match(healthy.out, /controller [123]/);
      assert.match(healthy.out, /partitions 3: 3 in sync, 0 under-replicated, 0 offline/);

      await cluster.kill(3);
      let degraded = healthy;
      await waitFor(
        'broker 3 out of the ISRs',
        async () => {
          degraded = await clusterStatus(cluster.bootstrap[0]!);
          return degraded.code === 1 && /partitions 3: 0 in sync, 3 under-replicated/.test(degraded.out);
        },
        60_000,
        500,
      );
      assert.match(degraded.out, /^  watched-0  leader [12]  replicas [123,]+  isr [12],[12]$/m);
      assert.doesNotMatch(degraded.out, /^  3  /m, 'a dead broker is not listed');

      cluster.restart(3);
      await waitFor('healthy again', async () => (await clusterStatus(cluster.bootstrap[0]!)).code === 0, 60_000, 500);
      const unreachable = await clusterStatus(`127.0.0.1:${await freePort()}`);
      assert.equal(unreachable.code, 1, 'no broker to ask: exit 1');
      assert.match(unreachable.out, /^sluice cluster status: /m);
    } finally {
      await cluster.stop();
    }
  },
);
