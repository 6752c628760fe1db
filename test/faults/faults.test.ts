// The fault bed: three brokers and etcd, each in its own network namespace (netbed.ts), kafkajs
// idempotent producers, kcat, the Sluice client and a transactional producer writing with acks=all
// (writers.ts) while the nemesis runs a seeded schedule of faults (nemesis.ts). Then every link heals,
// every broker runs, and the checker (checker.ts) compares what the writers were told with what
// read_uncommitted and read_committed find, and the bed compares the replicas' logs byte for byte.
//
// `npm run test:faults -- --minutes 60` runs a long schedule (SLUICE_FAULT_MINUTES); SLUICE_SEED=<seed>
// replays one. Every run prints its seed and schedule.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import kafkajs from 'kafkajs';
import { logBytes, TestCluster } from '../support/cluster.js';
import { Random, seedFromEnvironment } from '../support/random.js';
import { waitFor } from '../support/sluice-process.js';
import { check, describe, type History, type PartitionReads } from './checker.js';
import { NetBed } from './netbed.js';
import { FAULTS, PROCESS_FAULTS, runStep, schedule } from './nemesis.js';
import { kafkajsWriter, kcatWriter, sluiceWriter, transactionalWriter } from './writers.js';

const { Kafka, logLevel } = kafkajs;
const TOPIC = 'jepsen';
const PARTITIONS = 3;
const BROKERS = [1, 2, 3];
const MINUTES = Number(process.env.SLUICE_FAULT_MINUTES ?? 4);

/** Every value of every partition, in offset order, read from the beginning until nothing new comes. */
async function readEverything(cluster: TestCluster, readUncommitted: boolean): Promise<PartitionReads> {
  const kafka = new Kafka({ brokers: cluster.bootstrap, clientId: 'fault-reader', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({
    groupId: `fault-reader-${readUncommitted ? 'all' : 'committed'}-${Date.now()}`,
    readUncommitted,
    maxWaitTimeInMs: 200,
  });
  const byPartition = new Map<number, Array<[bigint, string]>>();
  let lastArrival = Date.now();
  await consumer.connect();
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      lastArrival = Date.now();
      const list = byPartition.get(partition) ?? [];
      list.push([BigInt(message.offset), message.value!.toString()]);
      byPartition.set(partition, list);
    },
  });
  await waitFor('the reader to see nothing new for 5 s', () => Date.now() - lastArrival > 5_000, 300_000, 500);
  await consumer.disconnect();
  const reads: PartitionReads = new Map();
  for (let p = 0; p < PARTITIONS; p++)
    reads.set(
      p,
      (byPartition.get(p) ?? []).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, value]) => value),
    );
  return reads;
}

test(
  `fault bed: ${MINUTES} min of faults under acks=all writers — nothing lost, duplicated, reordered, diverged`,
  {
    timeout: (MINUTES * 60 + 600) * 1000,
  },
  async () => {
    const seed = seedFromEnvironment();
    const random = new Random(seed);
    // Without network namespaces (no root, no `ip netns`) the bed still runs, on loopback, with the
    // process faults only, and says so.
    const log = (line: string) => console.log(line);
    let bed: NetBed | null = null;
    try {
      // SLUICE_FAULT_NETNS=off runs the fallback on a machine that has namespaces (to see it work).
      if (process.env.SLUICE_FAULT_NETNS === 'off') throw new Error('SLUICE_FAULT_NETNS=off');
      bed = NetBed.create([0, ...BROKERS]);
    } catch (error) {
      log(
        `NETWORK FAULTS OFF: network namespaces cannot be created here (${String(error).split('\n')[0]}); ` +
          `this run injects ${PROCESS_FAULTS.join(', ')} only`,
      );
    }
    const net = bed;
    let cluster: TestCluster | null = null;
    let passed = false;
    try {
      cluster = await TestCluster.start(
        BROKERS.length,
        ['min.insync.replicas=2', 'unclean.leader.election.enable=false'],
        undefined,
        net === null
          ? undefined
          : {
              etcd: { host: net.addressOf(net.etcdNode), netns: net.namespaceOf(net.etcdNode) },
              broker: (nodeId) => ({ host: net.addressOf(nodeId), netns: net.namespaceOf(nodeId) }),
            },
      );
      await cluster.createTopic(TOPIC, PARTITIONS, 3);
      const steps = schedule(random, MINUTES * 60_000, PARTITIONS, bed === null ? PROCESS_FAULTS : FAULTS);
      log(`seed ${seed} (SLUICE_SEED=${seed} replays it); ${steps.length} steps:`);
      for (const step of steps) log(`  ${step.fault} p${step.partition} hold ${step.holdMs} settle ${step.settleMs}`);

      const history: History = { acknowledged: [], committed: [], aborted: [] };
      const live = cluster;
      const context = {
        bootstrap: () => live.brokers.map((b) => `${b.host}:${b.port}`),
        topic: TOPIC,
        partitions: PARTITIONS,
        history,
        random,
      };
      const writers = [
        kafkajsWriter(context, 'kafkajs-1'),
        kafkajsWriter(context, 'kafkajs-2'),
        kcatWriter(context),
        sluiceWriter(context),
        transactionalWriter(context),
      ];
      log('running:');
      for (const step of steps) await runStep({ cluster, bed, topic: TOPIC, brokers: BROKERS, random, log }, step);
      await Promise.all(writers.map((w) => w.stop()));
      bed?.heal();

      // Healed: every replica back in every ISR, then read.
      await waitFor(
        'every partition back to three in-sync replicas',
        async () => {
          try {
            return (await live.partitions(TOPIC)).every((p) => p.isr.length === 3 && p.leader > 0);
          } catch {
            return false;
          }
        },
        120_000,
        500,
      );
      const report = check(history, await readEverything(cluster, true), await readEverything(cluster, false));
      let divergent = 0;
      for (let p = 0; p < PARTITIONS; p++) {
        const same = () => {
          const [first, ...others] = live.brokers.map((b) => logBytes(b.dataDir, TOPIC, p));
          return others.every((copy) => copy.equals(first!));
        };
        await waitFor(`${TOPIC}-${p} identical on every broker`, same, 60_000, 500).catch(() => divergent++);
      }
      const perWriter = new Map<string, number>();
      for (const w of history.acknowledged) perWriter.set(w.writer, (perWriter.get(w.writer) ?? 0) + 1);
      log(
        `acknowledged ${history.acknowledged.length} (${[...perWriter].map(([w, n]) => `${w} ${n}`).join(', ')}), ` +
          `committed ${history.committed.length}, aborted ${history.aborted.length}`,
      );
      assert.equal(perWriter.size, 4, `every non-transactional writer got acknowledgements: ${[...perWriter.keys()]}`);
      log(describe(report, divergent));
      assert.ok(history.acknowledged.length > 0 && history.committed.length > 0, 'the writers got acknowledgements');
      assert.deepEqual(
        {
          lost: report.lost,
          duplicated: report.duplicated,
          reordered: report.reordered,
          abortedReads: report.abortedReads,
          divergent,
        },
        { lost: [], duplicated: [], reordered: [], abortedReads: [], divergent: 0 },
        `seed ${seed}`,
      );
      passed = true;
    } finally {
      // A failing run leaves the brokers' data and last output behind, to read the loss off them.
      await cluster?.stop({ keep: !passed });
      if (!passed && cluster !== null)
        log(`kept for reading: ${cluster.brokers.map((b) => `broker ${b.nodeId} ${b.dataDir}`).join(', ')}`);
      bed?.destroy();
    }
  },
);
