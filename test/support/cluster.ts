// A local cluster for tests: a real etcd and N `sluice start --cluster-etcd …` processes on loopback,
// each with its own data dir, killed (-9), restarted and stopped by the test.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { EtcdServer, type EtcdPlace } from './etcd.js';
import { freePort, killed, spawnSluice, waitFor } from './sluice-process.js';

const { Kafka, logLevel } = kafkajs;

export interface ClusterBroker {
  nodeId: number;
  /** Where it listens: 127.0.0.1, or its network namespace's address (test/faults/netbed.ts). */
  host: string;
  netns?: string;
  port: number;
  dataDir: string;
  child: ChildProcess | null;
  /** The last of its log lines (stdout and stderr), for a failing test to show. */
  output: string;
}

/** Where the brokers and etcd of a cluster run when not all on loopback (test/faults/netbed.ts). */
export interface ClusterNetwork {
  etcd: EtcdPlace;
  broker(nodeId: number): { host: string; netns: string };
}

export class TestCluster {
  private constructor(
    readonly etcd: EtcdServer,
    readonly brokers: ClusterBroker[],
    private readonly overrides: readonly string[],
  ) {}

  /** Where a broker reaches etcd, when not directly (a proxy the test can cut). */
  etcdEndpointOf: (nodeId: number) => string = () => this.etcd.endpoint;

  static async start(
    count: number,
    overrides: readonly string[] = [],
    etcdEndpointOf?: (etcd: EtcdServer, nodeId: number) => Promise<string>,
    network?: ClusterNetwork,
  ): Promise<TestCluster> {
    const etcd = await EtcdServer.start(network?.etcd);
    const brokers: ClusterBroker[] = [];
    for (let nodeId = 1; nodeId <= count; nodeId++)
      brokers.push({
        nodeId,
        host: network?.broker(nodeId).host ?? '127.0.0.1',
        ...(network !== undefined ? { netns: network.broker(nodeId).netns } : {}),
        port: network !== undefined ? 9092 : await freePort(),
        dataDir: mkdtempSync(join(tmpdir(), `sluice-cluster-${nodeId}-`)),
        child: null,
        output: '',
      });
    const cluster = new TestCluster(etcd, brokers, overrides);
    if (etcdEndpointOf !== undefined) {
      const endpoints = new Map<number, string>();
      for (const b of brokers) endpoints.set(b.nodeId, await etcdEndpointOf(etcd, b.nodeId));
      cluster.etcdEndpointOf = (nodeId) => endpoints.get(nodeId)!;
    }
    for (const b of brokers) cluster.spawn(b);
    await cluster.untilBrokers(count);
    return cluster;
  }

  get bootstrap(): string[] {
    return this.brokers.filter((b) => b.child !== null).map((b) => `${b.host}:${b.port}`);
  }

  broker(nodeId: number): ClusterBroker {
    return this.brokers.find((b) => b.nodeId === nodeId)!;
  }

  private spawn(b: ClusterBroker): void {
    b.child = spawnSluice(b.port, b.dataDir, {
      host: b.host,
      ...(b.netns !== undefined ? { netns: b.netns } : {}),
      overrides: [
        `sluice.cluster.etcd=${this.etcdEndpointOf(b.nodeId)}`,
        `node.id=${b.nodeId}`,
        'sluice.cluster.session.timeout.ms=3000',
        'replica.lag.time.max.ms=3000',
        'group.initial.rebalance.delay.ms=100',
        ...this.overrides,
      ],
      stdout: 'pipe',
      logLevel: process.env.SLUICE_CLUSTER_LOG_LEVEL ?? 'info',
    });
    const keep = (chunk: Buffer) => {
      b.output = (b.output + chunk.toString()).slice(-64_000);
      if (process.env.SLUICE_CLUSTER_LOGS) process.stderr.write(`[${b.nodeId}] ${chunk}`);
    };
    b.child.stdout!.on('data', keep);
    b.child.stderr!.on('data', keep);
  }

  kafka(clientId = 'cluster-test') {
    return new Kafka({
      brokers: this.bootstrap,
      clientId,
      logLevel: logLevel.NOTHING,
      retry: { retries: 30, initialRetryTime: 100, maxRetryTime: 1000 },
    });
  }

  /** Waits until a broker's Metadata lists `count` brokers and a controller. */
  async untilBrokers(count: number, timeoutMs = 30_000): Promise<void> {
    await waitFor(
      `${count} brokers in the cluster`,
      async () => {
        const admin = this.kafka().admin();
        try {
          await admin.connect();
          const described = await admin.describeCluster();
          return described.brokers.length === count && described.controller !== null && described.controller >= 0;
        } catch {
          return false;
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      },
      timeoutMs,
      200,
    );
  }

  /** Partition metadata as a live broker answers it. */
  async partitions(topic: string) {
    const admin = this.kafka().admin();
    try {
      await admin.connect();
      const metadata = await admin.fetchTopicMetadata({ topics: [topic] });
      return metadata.topics[0]!.partitions.sort((a, b) => a.partitionId - b.partitionId);
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
  }

  async createTopic(topic: string, partitions = 1, replicationFactor = 3): Promise<void> {
    const admin = this.kafka().admin();
    await admin.connect();
    await admin.createTopics({
      topics: [{ topic, numPartitions: partitions, replicationFactor }],
      waitForLeaders: true,
    });
    await admin.disconnect();
  }

  /** Every value of `topic` from the beginning, once `expected` arrived (and half a second for a duplicate). */
  async readAll(topic: string, expected: number): Promise<string[]> {
    const consumer = this.kafka().consumer({ groupId: `check-${topic}-${Date.now()}`, maxWaitTimeInMs: 200 });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const seen: string[] = [];
    await consumer.run({ eachMessage: async ({ message }) => void seen.push(message.value!.toString()) });
    await waitFor(`${expected} messages of ${topic}`, () => seen.length >= expected, 60_000);
    await new Promise((r) => setTimeout(r, 500)); // a duplicate would arrive now
    await consumer.disconnect();
    return seen;
  }

  async kill(nodeId: number): Promise<void> {
    const b = this.broker(nodeId);
    if (b.child) await killed(b.child);
    b.child = null;
  }

  /** SIGSTOP: the broker freezes (its lease runs out) until resume(). */
  pause(nodeId: number): void {
    this.broker(nodeId).child?.kill('SIGSTOP');
  }

  resume(nodeId: number): void {
    this.broker(nodeId).child?.kill('SIGCONT');
  }

  restart(nodeId: number): void {
    this.spawn(this.broker(nodeId));
  }

  /** Kills every broker and etcd and removes their data; with `keep`, the data directories stay, each
   *  with the broker's last output in `broker-output.log`, for a failing test to leave behind. */
  async stop(options: { keep?: boolean } = {}): Promise<void> {
    for (const b of this.brokers) {
      if (b.child) await killed(b.child);
      b.child = null;
    }
    await this.etcd.stop();
    for (const b of this.brokers)
      if (options.keep) writeFileSync(join(b.dataDir, 'broker-output.log'), b.output);
      else rmSync(b.dataDir, { recursive: true, force: true });
  }
}

/** What a kafkajs producer's send takes, as far as the writer below uses it. */
interface Sender {
  send(record: { topic: string; acks: number; messages: { value: string }[] }): Promise<unknown>;
}

/**
 * A writer that sends `batch` unique values (`<prefix>-<n>`, n counting up) per acks=all send, one send
 * at a time, until stopped; `acknowledged` holds the values of every send that succeeded, in order. A
 * failed send's values may or may not be in the log — never twice, with an idempotent producer.
 */
export function ackedWriter(producer: Sender, topic: string, prefix: string, batch: number) {
  const acknowledged: string[] = [];
  let next = 0;
  let writing = true;
  const running = (async () => {
    while (writing) {
      const values = Array.from({ length: batch }, () => `${prefix}-${next++}`);
      try {
        await producer.send({ topic, acks: -1, messages: values.map((value) => ({ value })) });
        acknowledged.push(...values);
      } catch {
        // not acknowledged
      }
    }
  })();
  return {
    acknowledged,
    async stop(): Promise<void> {
      writing = false;
      await running;
    },
  };
}

/** A partition's log bytes in one broker's data dir: every segment, in order. */
export function logBytes(dataDir: string, topic: string, partition: number): Buffer {
  const dir = join(dataDir, `${topic}-${partition}`);
  const segments = readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .sort();
  return Buffer.concat(segments.map((f) => readFileSync(join(dir, f))));
}
