// The open partitions of the broker (partition/partition.ts), by topic: opening (recovering their logs,
// producer state and transaction index), deleting and closing them.
//
// Fetch long-poll is woken by the high watermark moving, never by timers polling the disk: a fetch that
// found fewer than min_bytes parks on the partitions it reads, and each Partition wakes its parked
// fetches when an append moves its high watermark, or when it is retired (its topic deleted).
//
// Opening and deleting the partitions of one topic run one after the other, in call order: a topic
// deleted and created again at once opens its new, empty directories only after the old ones were
// renamed away (`<topic>-<partition>.<uuid>-delete`, storage/deleted-directories.ts), and a topic
// deleted while its creation is still opening logs loses those logs too.
import { join } from 'node:path';
import { DeletedDirectoryRemover, partitionDirectoriesOf, renameForDeletion } from '../storage/deleted-directories.js';
import { StorageError } from '../storage/errors.js';
import { nodeFileSystem } from '../storage/file-system.js';
import { PartitionLog } from '../storage/log.js';
import type { LogConfig } from '../storage/limits.js';
import type { StorageLogger } from '../storage/logger.js';
import type { Clock } from '../runtime/clock.js';
import type { Logger } from './logger.js';
import type { PartitionHooks } from './partition/hooks.js';
import { Partition, type PartitionRole } from './partition/partition.js';
import { PartitionProducerState } from './producer-state.js';
import { isInternalTopic } from './topic-names.js';
import { PartitionTransactions } from './transactions/partition-transactions.js';

export interface PartitionSetOptions {
  producerIdExpirationMs: number;
  logger: Logger;
  clock: Clock;
  /** The hook points every partition's pipelines run (partition/hooks.ts). */
  hooks: PartitionHooks;
  /** The role a topic's partitions open in. Default leader (a single node leads them all); a replicated
   *  broker opens its replicated topics' as followers (high watermark at the log start: what its own log
   *  holds is not known to be committed) and makes the ones it leads leaders. */
  initialRole?: PartitionRole | ((topic: string) => PartitionRole);
}

export class PartitionSet {
  private readonly partitions = new Map<string, Partition[]>();
  /** Partitions of deleted topics, unfindable since the DeleteTopics call, that a delete job has not
   *  renamed yet. */
  private readonly hidden = new Map<string, Partition[]>();
  /** The last open or delete of each topic still under way; the next one waits for it. */
  private readonly topicWork = new Map<string, Promise<unknown>>();
  private readonly deletedDirectories: DeletedDirectoryRemover;

  constructor(
    private readonly dataDir: string,
    private readonly storageLogger: StorageLogger,
    private readonly options: PartitionSetOptions,
  ) {
    this.deletedDirectories = new DeletedDirectoryRemover({ logger: storageLogger });
  }

  /** Runs `work` after the topic's earlier opens and deletes, in call order. */
  private serialized<T>(topic: string, work: () => Promise<T>): Promise<T> {
    const previous = this.topicWork.get(topic) ?? Promise.resolve();
    const next = previous.then(work, work);
    const settled = next.catch(() => undefined);
    this.topicWork.set(topic, settled);
    void settled.then(() => {
      if (this.topicWork.get(topic) === settled) this.topicWork.delete(topic);
    });
    return next;
  }

  static directoryOf(dataDir: string, topic: string, partition: number): string {
    return join(dataDir, `${topic}-${partition}`);
  }

  get(topic: string, partition: number): Partition | undefined {
    return this.partitions.get(topic)?.[partition];
  }

  partitionsOf(topic: string): readonly Partition[] {
    return this.partitions.get(topic) ?? [];
  }

  /**
   * Opens (creating and recovering as needed) partitions `from`..`to`-1 of a topic: all of them or,
   * if one fails, none (the directories this call created are renamed for deletion).
   */
  open(topic: string, topicId: Buffer, from: number, to: number, config: LogConfig): Promise<void> {
    return this.serialized(topic, () => this.openNow(topic, topicId, from, to, config));
  }

  private async openNow(topic: string, topicId: Buffer, from: number, to: number, config: LogConfig): Promise<void> {
    // The broker's own topics have many partitions (`__consumer_offsets`: 50) that open at every start:
    // their per-partition open lines go to debug; the broker logs one summary line.
    const internal = isInternalTopic(topic);
    const storageLogger = internal ? quietOpens(this.storageLogger) : this.storageLogger;
    const producerOptions = {
      producerIdExpirationMs: this.options.producerIdExpirationMs,
      logger: internal ? quietRecovery(this.options.logger) : this.options.logger,
    };
    // A partition already open stays as it is: two CreatePartitions at once, or one retried after
    // topics.json could not be written, must not open a second log on the same directory.
    const open = this.partitions.get(topic);
    const wanted = Array.from({ length: to - from }, (_, i) => from + i).filter((p) => open?.[p] === undefined);
    const attempts = await Promise.allSettled(
      wanted.map((partition) =>
        PartitionLog.open({
          directory: PartitionSet.directoryOf(this.dataDir, topic, partition),
          topic,
          partition,
          topicId,
          config,
          logger: storageLogger,
          trustAppendedBatches: true, // the broker validates every produced batch (CRC included) first
        }),
      ),
    );
    const failed = attempts.find((attempt) => attempt.status === 'rejected');
    if (failed !== undefined) {
      // Only what this call made goes; a directory that was there (another topic's, say) stays.
      for (const attempt of attempts) {
        if (attempt.status !== 'fulfilled') continue;
        if (attempt.value.created) this.deletedDirectories.removeLater(await attempt.value.delete(), 0);
        else await attempt.value.close();
      }
      throw failed.reason;
    }
    const opened = attempts.map((attempt) => (attempt as PromiseFulfilledResult<PartitionLog>).value);
    // Producer state comes back from its snapshot plus the log tail before any produce is accepted.
    const states = await Promise.all(
      opened.map((log) => PartitionProducerState.recover(log, { ...producerOptions, nowMs: this.options.clock.now() })),
    );
    const transactions = await Promise.all(opened.map((log, i) => PartitionTransactions.recover(log, states[i])));
    const list = this.partitions.get(topic) ?? [];
    opened.forEach((log, i) => {
      list[wanted[i]!] = new Partition({
        topic,
        index: wanted[i]!,
        log,
        producers: states[i]!,
        transactions: transactions[i]!,
        hooks: this.options.hooks,
        clock: this.options.clock,
        role:
          typeof this.options.initialRole === 'function'
            ? this.options.initialRole(topic)
            : (this.options.initialRole ?? 'leader'),
      });
    });
    this.partitions.set(topic, list);
  }

  /**
   * Deletes every partition of a topic: at once, its partitions are no longer found and retire (their
   * parked fetches wake); then each log closes and its directory is renamed `-delete` (durably) before this resolves.
   * The files are removed `file.delete.delay.ms` later, in the background.
   */
  delete(topic: string): Promise<void> {
    this.hide(topic);
    return this.serialized(topic, async () => {
      // Every log hidden so far goes now — by this call, or by an earlier delete's call while an open
      // was still under way — before any later open of the topic runs; and an open still under way when
      // this delete was called registered its logs since: they go too.
      this.hide(topic);
      const logs = (this.hidden.get(topic) ?? []).map((partition) => partition.log);
      this.hidden.delete(topic);
      const renamed = await Promise.allSettled(logs.map((log) => log.delete()));
      renamed.forEach((result, i) => {
        if (result.status === 'fulfilled')
          this.deletedDirectories.removeLater(result.value, logs[i]!.config.fileDeleteDelayMs);
      });
      const failed = renamed.find((result) => result.status === 'rejected');
      if (failed !== undefined) throw toStorageError(failed.reason);
    });
  }

  /** Makes the topic's open partitions unfindable at once and retires them (their parked fetches wake);
   *  the next delete job of the topic closes and renames their logs. */
  private hide(topic: string): void {
    const list = (this.partitions.get(topic) ?? []).filter((partition) => partition !== undefined);
    this.partitions.delete(topic);
    for (const partition of list) partition.retire();
    if (list.length > 0) this.hidden.set(topic, [...(this.hidden.get(topic) ?? []), ...list]);
  }

  /**
   * Start-up, before any partition opens: finishes the deletions a crash interrupted (the directories
   * of `deleted` topics still under their old names are renamed `-delete`), then removes every
   * `-delete` directory in the background.
   */
  async finishDeletions(deleted: readonly { name: string; id: Buffer }[]): Promise<void> {
    for (const topic of deleted) {
      for (const { directory, partition } of await partitionDirectoriesOf(
        nodeFileSystem,
        this.dataDir,
        topic.name,
        topic.id,
      )) {
        await renameForDeletion(nodeFileSystem, directory, topic.name, partition);
        this.options.logger.warn(
          { directory, topic: topic.name },
          'partition of a deleted topic found under its old name (the broker stopped during the deletion); removing it',
        );
      }
    }
    const leftovers = await this.deletedDirectories.removeLeftovers(this.dataDir);
    if (leftovers > 0)
      this.options.logger.info({ directories: leftovers }, 'removing partition directories of deleted topics');
  }

  /** Resolves once every scheduled removal of a deleted partition directory has run (tests). */
  deletedDirectoriesRemoved(): Promise<void> {
    return this.deletedDirectories.idle();
  }

  /** Snapshots producer state at each log end, then flushes and closes every log. */
  async closeAll(): Promise<void> {
    await Promise.all(this.topicWork.values()); // opens and deletes under way end first
    await this.deletedDirectories.close(); // removals not yet started happen at the next start
    const all = this.all();
    this.partitions.clear();
    const snapshots: Promise<void>[] = [];
    for (const partition of all) {
      partition.retire();
      if (partition.log.readOnly === null)
        snapshots.push(partition.producers.writeSnapshot(partition.log.logEndOffset));
    }
    // A snapshot that fails costs the next start a longer replay, not the close.
    const written = await Promise.allSettled(snapshots);
    for (const result of written)
      if (result.status === 'rejected')
        this.options.logger.warn({ error: String(result.reason) }, 'producer snapshot not written at close');
    await Promise.all(all.map((partition) => partition.log.close()));
  }

  /** Forgets idle producers and snapshots producer state (a restart then replays less of the log).
   *  Resolves when the snapshots are written or have failed (logged); rejects only on an InvariantError. */
  async maintainProducers(nowMs: number): Promise<void> {
    const snapshots: Promise<void>[] = [];
    for (const { log, producers: state, transactions } of this.all()) {
      state.expire(nowMs);
      if (log.readOnly === null && state.producerCount > 0) {
        // At or above every batch the state holds (appends not yet flushed included: under `os` and
        // `interval` the flushed offset lags). A crash that loses the tail leaves the snapshot above
        // the log end, and recovery discards it for an older one.
        const offset = Math.max(log.flushedOffset, state.endOffset);
        // An InvariantError throws at once; a disk error rejects: the next round tries again, and
        // recovery replays more of the log meanwhile.
        const written = state
          .writeSnapshot(offset)
          .catch((error: unknown) =>
            this.options.logger.warn(
              { directory: log.directory, offset, error: String(error) },
              'producer snapshot not written',
            ),
          );
        snapshots.push(written);
      }
      transactions.prune(log.logStartOffset);
    }
    await Promise.all(snapshots);
  }

  all(): Partition[] {
    return [...this.partitions.values()].flat().filter((partition) => partition !== undefined);
  }

  /** Wakes the fetches parked on one partition: they read again (a wake with nothing new is harmless). */
  wake(topic: string, partition: number): void {
    this.get(topic, partition)?.wakeParked();
  }

  /** Wakes every parked fetch (the broker closes: they answer now instead of holding it open). */
  wakeAll(): void {
    for (const partition of this.all()) partition.wakeParked();
  }
}

/** `log-opened` at debug instead of info; every other line as it is. */
function quietOpens(logger: StorageLogger): StorageLogger {
  return { log: (level, event, fields) => logger.log(event === 'log-opened' ? 'debug' : level, event, fields) };
}

/** The producer state's info lines (`producer state recovered`) at debug; warnings as they are. */
function quietRecovery(logger: Logger): Logger {
  return {
    debug: (fields, message) => logger.debug(fields, message),
    info: (fields, message) => logger.debug(fields, message),
    warn: (fields, message) => logger.warn(fields, message),
    error: (fields, message) => logger.error(fields, message),
  };
}

function toStorageError(error: unknown): StorageError {
  if (error instanceof StorageError) return error;
  return new StorageError('KAFKA_STORAGE_ERROR', (error as Error).message, error);
}
