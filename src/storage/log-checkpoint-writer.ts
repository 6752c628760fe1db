// A partition log's checkpoints while it runs: the recovery point (after the indexes it vouches for
// are durable), the log start offset and the leader epochs, each written only when it moved, one
// write at a time. The files and their format are checkpoints.ts's; every write there is
// asynchronous and atomic (temporary file, fsync, rename, fsync directory), so a checkpoint never
// blocks the event loop of a serving broker.

import {
  logStartOffsetFileName,
  recoveryPointFileName,
  writeLeaderEpochs,
  writeOffsetCheckpoint,
  type LeaderEpochCache,
  type PartitionName,
} from './checkpoints.js';
import type { LogState } from './log-state.js';

export class CheckpointWriter {
  private checkpointedRecoveryPoint = -1;
  private checkpointedStartOffset = -1;
  private chain: Promise<void> = Promise.resolve();
  /** The leader-epoch write under way for entries just added; null once the file holds them all. */
  private epochWrite: Promise<void> | null = null;

  constructor(
    private readonly state: LogState,
    private readonly name: PartitionName,
    readonly leaderEpochs: LeaderEpochCache,
  ) {}

  /** Writes whatever moved; serialized with the writes before it. */
  checkpoint(epochsChanged = false): Promise<void> {
    const run = () => this.write(epochsChanged);
    this.chain = this.chain.then(run, run);
    return this.chain;
  }

  /** A checkpoint in the background; a failure turns the partition read-only. */
  request(): void {
    this.checkpoint().catch((error: unknown) => this.state.markReadOnly('checkpoint', error));
  }

  /** Resolves once the writes under way have ended, however they ended. */
  settled(): Promise<void> {
    return this.chain.catch(() => undefined);
  }

  /**
   * Entries were added to the leader-epoch cache (a new leader epoch, or replicated batches of one):
   * writes the file now, in the checkpoint order. Until it is durable, `epochsDurable` holds the
   * write and appends wait for it before resolving: recovery cuts a batch whose epoch the file does
   * not know, so an acknowledged batch must never carry an epoch the file may not have. A failure
   * turns the partition read-only.
   */
  epochsChanged(): Promise<void> {
    const { state } = this;
    const written = this.checkpoint(true).catch((error: unknown) => {
      state.markReadOnly('leader epochs', error);
      throw state.readOnlyError ?? state.toStorageError(error);
    });
    this.epochWrite = written;
    written.then(
      () => {
        if (this.epochWrite === written) this.epochWrite = null;
      },
      () => undefined,
    );
    return written;
  }

  /** The leader-epoch write appends must wait for, or null when the file holds every entry. */
  get epochsDurable(): Promise<void> | null {
    return this.epochWrite;
  }

  writeLeaderEpochs(): Promise<void> {
    return writeLeaderEpochs(this.state.environment.fileSystem, this.state.directory, this.leaderEpochs.list());
  }

  private async write(epochsChanged: boolean): Promise<void> {
    const { state } = this;
    if (state.readOnlyError !== null) return;
    const { fileSystem } = state.environment;
    if (epochsChanged) await this.writeLeaderEpochs();
    const recoveryPoint = Math.min(state.flushed, this.transactionIndexHold());
    if (recoveryPoint !== this.checkpointedRecoveryPoint) {
      for (const segment of state.segments) if (segment.appender !== null) await segment.persistIndexes(true);
      await writeOffsetCheckpoint(fileSystem, state.directory, recoveryPointFileName, this.name, recoveryPoint);
      this.checkpointedRecoveryPoint = recoveryPoint;
    }
    const startOffset = state.startOffset;
    if (startOffset !== this.checkpointedStartOffset) {
      await writeOffsetCheckpoint(fileSystem, state.directory, logStartOffsetFileName, this.name, startOffset);
      this.checkpointedStartOffset = startOffset;
      if (this.leaderEpochs.truncateFromStart(startOffset)) await this.writeLeaderEpochs();
    }
  }

  /** The recovery point may not pass a control batch whose `.txnindex` entry is not settled yet. */
  private transactionIndexHold(): number {
    let hold = Number.POSITIVE_INFINITY;
    for (const segment of this.state.segments) {
      const from = segment.transactionIndex.recovered?.unverifiedFrom;
      if (from !== undefined && from !== null && from < hold) hold = from;
    }
    return hold;
  }
}
