// A local cluster for tests: a real etcd and N `sluice start --cluster-etcd …` processes on loopback,
// each with its own data dir, killed (-9), restarted and stopped by the test.
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { EtcdServer } from './etcd.js';
import { freePort, killed, spawnSluice, waitFor } from './sluice-process.js';

const { Kafka, logLevel } = kafkajs;

export interface ClusterBroker {
  nodeId: number;
  port: number;
  dataDir: string;
  child: ChildProcess | null;
  /** The last of its log lines (stdout and stderr), for a failing test to show. */
  output: string;
}

export class TestCluster {
  private constructor(
    readonly etcd: EtcdServer,
    readonly brokers: ClusterBroker[],
    private readonly overrides: readonly string[],
  ) {}

  static async start(count: number, overrides: readonly string[] = []): Promise<TestCluster> {
    const etcd = await EtcdServer.start();
    const brokers: ClusterBroker[] = [];
    for (let nodeId = 1; nodeId <= count; nodeId++)
      brokers.push({
        nodeId,
        port: await freePort(),
        dataDir: mkdtempSync(join(tmpdir(), `sluice-cluster-${nodeId}-`)),
        child: null,
        output: '',
      });
    const cluster = new TestCluster(etcd, brokers, overrides);
    for (const b of brokers) cluster.spawn(b);
    await cluster.untilBrokers(count);
    return cluster;
  }

  get bootstrap(): string[] {
    return this.brokers.filter((b) => b.child !== null).map((b) => `127.0.0.1:${b.port}`);
  }

  broker(nodeId: number): ClusterBroker {
    return this.brokers.find((b) => b.nodeId === nodeId)!;
  }

  private spawn(b: ClusterBroker): void {
    b.child = spawnSluice(b.port, b.dataDir, {
      overrides: [
        `sluice.cluster.etcd=${this.etcd.endpoint}`,
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

  async kill(nodeId: number): Promise<void> {
    const b = this.broker(nodeId);
    if (b.child) await killed(b.child);
    b.child = null;
  }

  restart(nodeId: number): void {
    this.spawn(this.broker(nodeId));
  }

  async stop(): Promise<void> {
    for (const b of this.brokers) {
      if (b.child) await killed(b.child);
      b.child = null;
    }
    await this.etcd.stop();
    for (const b of this.brokers) rmSync(b.dataDir, { recursive: true, force: true });
  }
}
