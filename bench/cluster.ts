// Single node vs a three-broker cluster (replication factor 3, min.insync.replicas=2), acks=all:
//   - throughput: kcat (librdkafka, its own process) produces N × 100 B messages, acks=all, timed to exit;
//   - produce latency: fixed-rate produce (acks=-1) and consume on our own wire client (latency.ts),
//     the produce-ack percentiles being the figure replication changes;
//   - failover: the leader killed with -9 → the first write a kafkajs producer gets acknowledged, per cycle.
// Beside them, measured in the same run: the disk's 16 KiB write+fdatasync round and loopback TCP.
// Every broker and etcd share this machine's cores and disk, so the cluster figure is a floor.
//   node dist/bench/run.js cluster [--quick]
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { TestCluster } from '../test/support/cluster.js';
import { diskWriteSync, loopbackTcp } from './machine-limits.js';
import { fixedRateLatency } from './latency.js';
import { runKcat, startBrokerProcess } from './processes.js';

const quick = process.argv.includes('--quick');
const MESSAGES = quick ? 100_000 : 400_000;
const FAILOVER_CYCLES = quick ? 3 : 8;
const fixed = (n: number, digits = 0) => n.toFixed(digits);

async function kcatThroughput(bootstrap: string, topic: string, file: string): Promise<number> {
  const run = await runKcat(
    [
      '-P',
      '-b',
      bootstrap,
      '-t',
      topic,
      '-p',
      '0',
      '-l',
      file,
      '-X',
      'acks=all',
      '-X',
      'enable.idempotence=true',
      '-X',
      'linger.ms=5',
      '-X',
      'batch.size=1000000',
    ],
    300_000,
  );
  return MESSAGES / run.seconds;
}

async function latency(host: string, port: number, topic: string) {
  return fixedRateLatency(host, port, topic, {
    rate: 2000,
    valueBytes: 1024,
    durationMs: quick ? 4000 : 10_000,
    warmupMs: 1000,
  });
}

export async function run(): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), 'sluice-cluster-bench-'));
  try {
    const disk = diskWriteSync(work, 16 * 1024, 1, 1500, 1024 ** 3);
    const loopback = await loopbackTcp(1000);
    console.log(
      `  machine: 16 KiB write+fdatasync round p50 ${fixed(disk.roundP50Ms, 2)} ms ` +
        `(${fixed(disk.syncsPerSecond)}/s); ` +
        `loopback TCP ${fixed(loopback.mbPerSecond)} MB/s`,
    );
    const file = join(work, 'messages.txt');
    writeFileSync(file, Array.from({ length: MESSAGES }, (_, i) => String(i).padStart(99, 'x')).join('\n') + '\n');

    // ── one node ──
    const single = await startBrokerProcess(join(work, 'single'));
    let singleRate: number;
    let singleLatency;
    try {
      const admin = new kafkajs.Kafka({ brokers: [single.bootstrap], logLevel: kafkajs.logLevel.NOTHING }).admin();
      await admin.connect();
      await admin.createTopics({ topics: ['bench', 'bench-latency'].map((topic) => ({ topic, numPartitions: 1 })) });
      await admin.disconnect();
      singleRate = await kcatThroughput(single.bootstrap, 'bench', file);
      singleLatency = await latency(single.host, single.port, 'bench-latency');
    } finally {
      await single.stop();
    }

    // ── three replicas ──
    const cluster = await TestCluster.start(3, ['min.insync.replicas=2']);
    let clusterRate: number;
    let clusterLatency;
    const failovers: number[] = [];
    try {
      const kafka = cluster.kafka('bench');
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: ['bench', 'bench-latency', 'failover'].map((topic) => ({
          topic,
          numPartitions: 1,
          replicationFactor: 3,
        })),
        waitForLeaders: true,
      });
      await admin.disconnect();
      clusterRate = await kcatThroughput(cluster.bootstrap.join(','), 'bench', file);
      const leader = cluster.broker((await cluster.partitions('bench-latency'))[0]!.leader);
      clusterLatency = await latency('127.0.0.1', leader.port, 'bench-latency');

      // The probe retries every 50–100 ms: the figure is the cluster's failover, not kafkajs's default
      // backoff (which reaches a second between tries by the time a 3 s session times out).
      const probe = new kafkajs.Kafka({
        brokers: cluster.bootstrap,
        clientId: 'bench-failover',
        logLevel: kafkajs.logLevel.NOTHING,
        retry: { retries: 300, initialRetryTime: 50, maxRetryTime: 100 },
      });
      const producer = probe.producer({ idempotent: true, maxInFlightRequests: 1 });
      await producer.connect();
      for (let cycle = 0; cycle < FAILOVER_CYCLES; cycle++) {
        const victim = (await cluster.partitions('failover'))[0]!.leader;
        await producer.send({ topic: 'failover', acks: -1, messages: [{ value: 'before' }] });
        await cluster.kill(victim);
        const killedAt = performance.now();
        for (;;) {
          try {
            await producer.send({ topic: 'failover', acks: -1, messages: [{ value: `after-${cycle}` }] });
            break;
          } catch {
            // retried by kafkajs; a failure here is one more try
          }
        }
        failovers.push(performance.now() - killedAt);
        cluster.restart(victim);
        await cluster.untilBrokers(3, 60_000);
        const waited = performance.now();
        while ((await cluster.partitions('failover'))[0]!.isr.length < 3 && performance.now() - waited < 30_000)
          await new Promise((r) => setTimeout(r, 200));
      }
      await producer.disconnect();
    } finally {
      await cluster.stop();
    }

    failovers.sort((a, b) => a - b);
    console.log(`  produce ${MESSAGES} × 100 B, kcat acks=all idempotent:`);
    console.log(`    one node          ${fixed(singleRate).padStart(9)} msg/s`);
    console.log(
      `    3 replicas (ISR)  ${fixed(clusterRate).padStart(9)} msg/s  = ` +
        `${fixed((100 * clusterRate) / singleRate)} % of one node`,
    );
    const show = (name: string, l: typeof singleLatency) =>
      console.log(
        `    ${name.padEnd(17)} produce ack p50 ${fixed(l.produceAck.p50, 2)} p99 ${fixed(l.produceAck.p99, 2)} ms; ` +
          `end to end p50 ${fixed(l.endToEnd.p50, 2)} p99 ${fixed(l.endToEnd.p99, 2)} ms  ` +
          `(= ${fixed(l.produceAck.p50 / disk.roundP50Ms, 1)}× one fsync round)`,
      );
    console.log('  2 000 msg/s × 1 KiB, acks=-1:');
    show('one node', singleLatency);
    show('3 replicas (ISR)', clusterLatency);
    console.log(
      `  failover, kill -9 of the leader → first acknowledged write (session timeout 3 s), ` +
        `${FAILOVER_CYCLES} cycles: ` +
        `median ${fixed(failovers[failovers.length >> 1]!)} ms, max ${fixed(failovers.at(-1)!)} ms`,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
