// All partition logs of one data directory: opens them at start (recovering each, several at a
// time), creates and deletes them, and runs the background work — retention and compaction — on
// a timer, one partition at a time so it never competes with appends for more than one disk stream.

import type { Clock } from '../runtime/clock.js';
import { nodeFileSystem, type FileSystem } from './file-system.js';
import { defaultLogConfig, type LogConfig } from './limits.js';
import { PartitionLog } from './log.js';
import { stderrLogger, type StorageLogger } from './logger.js';
import { parsePartitionDirectoryName, partitionDirectoryName } from './segment-files.js';

export interface LogManagerOptions {
  dataDirectory: string;
  /** Settings for every partition; `configFor` overrides per topic. */
  defaults?: Partial<LogConfig>;
  configFor?: (topic: string) => Partial<LogConfig>;
  fileSystem?: FileSystem;
  clock?: Clock;
  logger?: StorageLogger;
  /** Partitions recovered at once during open (Kafka: num.recovery.threads.per.data.dir, default 1;
   *  recovery is mostly I/O, so a few in parallel keeps a disk busy without thrashing it). */
  recoveryParallelism?: number;
  trustAppendedBatches?: boolean;
}

function key(topic: string, partition: number): string {
  return `${topic}\u0000${partition}`;
}

export class LogManager {
  private readonly logs = new Map<string, PartitionLog>();
  /** Partitions that could not be opened (disk error, unreadable metadata), with why. */
  readonly offline = new Map<string, Error>();
  private timer: NodeJS.Timeout | null = null;
  private background: Promise<void> = Promise.resolve();
  private closed = false;

  private constructor(private readonly options: LogManagerOptions) {}

  /** Opens every `<topic>-<partition>` directory found in the data directory. */
  static async open(options: LogManagerOptions): Promise<LogManager> {
    const manager = new LogManager(options);
    const fileSystem = options.fileSystem ?? nodeFileSystem;
    await fileSystem.mkdir(options.dataDirectory);
    const names = (await fileSystem.readdir(options.dataDirectory)).filter(
      (name) => parsePartitionDirectoryName(name) !== null,
    );
    const queue = [...names];
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
        const { topic, partition } = parsePartitionDirectoryName(name)!;
        const stat = await fileSystem.stat(`${options.dataDirectory}/${name}`);
        if (stat?.isDirectory !== true) continue;
        try {
          await manager.getOrCreate(topic, partition);
        } catch (error) {
          // One bad partition must not keep the others (or the broker) from starting.
          manager.offline.set(name, error as Error);
          (options.logger ?? stderrLogger).log('error', 'partition-offline', {
            directory: `${options.dataDirectory}/${name}`,
            error: (error as Error).message,
            code: (error as { code?: string }).code,
          });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, options.recoveryParallelism ?? 4) }, worker));
    return manager;
  }

  private configOf(topic: string): Partial<LogConfig> {
    return { ...this.options.defaults, ...this.options.configFor?.(topic) };
  }

  get(topic: string, partition: number): PartitionLog | undefined {
    return this.logs.get(key(topic, partition));
  }

  all(): PartitionLog[] {
    return [...this.logs.values()];
  }

  async getOrCreate(topic: string, partition: number, topicId?: Uint8Array): Promise<PartitionLog> {
    const existing = this.get(topic, partition);
    if (existing !== undefined) return existing;
    const log = await PartitionLog.open({
      directory: `${this.options.dataDirectory}/${partitionDirectoryName(topic, partition)}`,
      topic,
      partition,
      topicId,
      config: this.configOf(topic),
      fileSystem: this.options.fileSystem,
      clock: this.options.clock,
      logger: this.options.logger,
      trustAppendedBatches: this.options.trustAppendedBatches,
      backgroundWork: false,
    });
    // Two callers may have raced to open the same partition; keep the first.
    const raced = this.get(topic, partition);
    if (raced !== undefined) {
      await log.close();
      return raced;
    }
    this.logs.set(key(topic, partition), log);
    return log;
  }

  async delete(topic: string, partition: number): Promise<void> {
    const log = this.get(topic, partition);
    if (log === undefined) return;
    this.logs.delete(key(topic, partition));
    // Renamed first (durably), so the partition can be created again at once; the files go now.
    const renamed = await log.delete();
    await (this.options.fileSystem ?? nodeFileSystem).rmdir(renamed);
  }

  /** Runs retention and compaction every `log.retention.check.interval.ms`. */
  startBackgroundWork(): void {
    if (this.timer !== null) return;
    const intervalMs = this.options.defaults?.retentionCheckIntervalMs ?? defaultLogConfig.retentionCheckIntervalMs;
    this.timer = setInterval(() => void this.runBackgroundOnce(), intervalMs);
    this.timer.unref();
  }

  /** One pass of retention and compaction over every partition, one partition at a time. A
   *  failure is the partition's own (logged; a disk error turns it read-only); the pass goes on. */
  runBackgroundOnce(): Promise<void> {
    const run = async () => {
      for (const log of this.all()) {
        if (this.closed) return;
        await log.runBackgroundWork();
      }
    };
    this.background = this.background.then(run, run);
    return this.background;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer !== null) clearInterval(this.timer);
    await this.background.catch(() => undefined);
    await Promise.all(this.all().map((log) => log.close()));
    this.logs.clear();
  }
}
