// A home for one broker service without the broker: the real PartitionSet and TopicRegistry on a temp
// dir (real files), behind the real adapters broker.ts hands its services (src/broker/service-adapters.ts).
// A test opens a service on it, closes everything, and opens it again to see what came back from disk.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeRecordBatches, type DecodedRecordBatch } from '../../src/protocol/record-batch/record-decoder.js';
import { ErrorCode } from '../../src/protocol/generated/error-codes.js';
import { silentLogger } from '../../src/broker/logger.js';
import { PartitionHooks } from '../../src/broker/partition/hooks.js';
import { PartitionSet } from '../../src/broker/partition-set.js';
import { PartitionMarkerWriter, ServicePartitions } from '../../src/broker/service-adapters.js';
import type { ClientProducer, Failure } from '../../src/broker/services.js';
import { logConfigFor } from '../../src/broker/topic-config.js';
import { TopicRegistry } from '../../src/broker/topic-registry.js';
import { ManualClock } from '../../src/runtime/clock.js';
import { MemoryLogger } from '../../src/storage/logger.js';

export class ServiceHome {
  readonly clock = new ManualClock(1_700_000_000_000);
  partitions!: PartitionSet;
  topics!: TopicRegistry;
  /** What a service is given: look-ups, internal appends, append waiters. */
  services!: ServicePartitions;
  markers!: PartitionMarkerWriter;

  private constructor(readonly dataDir: string) {}

  /** A fresh temp dir, or `dataDir` to reopen what an earlier home left there. */
  static async open(dataDir = mkdtempSync(join(tmpdir(), 'sluice-service-'))): Promise<ServiceHome> {
    const home = new ServiceHome(dataDir);
    await home.reopen();
    return home;
  }

  /** Opens (recovering) every partition the registry lists. */
  async reopen(): Promise<void> {
    this.topics = await TopicRegistry.open(this.dataDir);
    this.partitions = new PartitionSet(this.dataDir, new MemoryLogger(), {
      producerIdExpirationMs: 7 * 24 * 60 * 60 * 1000,
      logger: silentLogger,
      clock: this.clock,
      hooks: new PartitionHooks(),
    });
    for (const topic of this.topics.all())
      await this.partitions.open(topic.name, topic.id, 0, topic.partitions, logConfigFor(topic.configs, {}));
    this.services = new ServicePartitions(this.partitions, this.topics, (name, count, configs) =>
      this.createTopic(name, count, configs),
    );
    this.markers = new PartitionMarkerWriter(this.partitions, this.clock);
  }

  async createTopic(name: string, count: number, configs: Record<string, string> = {}): Promise<Failure> {
    if (this.topics.get(name)) return { errorCode: ErrorCode.TOPIC_ALREADY_EXISTS, errorMessage: 'exists' };
    const topic = await this.topics.create(name, count, configs);
    await this.partitions.open(name, topic.id, 0, count, logConfigFor(configs, {}));
    return { errorCode: ErrorCode.NONE, errorMessage: null };
  }

  /** A client topic written the plain way (no producer checks): enough for a service moving a record in. */
  readonly producer: ClientProducer = {
    produce: async (topic, partition, batch) => {
      const log = this.partitions.get(topic, partition);
      if (!log)
        return { errorCode: ErrorCode.UNKNOWN_TOPIC_OR_PARTITION, errorMessage: 'no such partition', baseOffset: -1 };
      const { baseOffset } = await log.append(batch);
      return { errorCode: ErrorCode.NONE, errorMessage: null, baseOffset };
    },
  };

  /** Every batch of a partition up to its high watermark. */
  async batches(topic: string, partition = 0): Promise<DecodedRecordBatch[]> {
    const log = this.partitions.get(topic, partition);
    if (!log || log.highWatermark === 0) return [];
    const read = await log.read(log.logStartOffset, 64 * 1024 * 1024);
    return decodeRecordBatches(read.records);
  }

  async close(): Promise<void> {
    this.partitions.wakeAll();
    await this.partitions.closeAll();
  }

  async remove(): Promise<void> {
    await this.close();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}
