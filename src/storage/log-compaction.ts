// Compaction as a partition log drives it: which segments the compactor (compaction.ts) may rewrite,
// putting its compacted copy in place of a segment, and the background round that runs retention and
// then, for compacted topics, compaction — one round at a time, on the log's
// `log.retention.check.interval.ms` timer or when called.

import { compactLog, type CompactionTarget } from './compaction.js';
import { invariant } from './errors.js';
import type { LogState } from './log-state.js';
import type { LogTrimmer } from './log-trimming.js';
import { rebuildSegment } from './recovery-scan.js';
import { Segment } from './segment.js';

/** The sealed, durable segments (not the active one) compaction may rewrite, and all segments. */
export function compactableSegments(state: LogState): { sealed: Segment[]; all: Segment[] } {
  const all = [...state.segments];
  const sealed = all.slice(0, -1).filter((segment) => segment.appender === null && segment.nextOffset <= state.flushed);
  return { sealed, all };
}

/** Puts the compacted copy at `swapPath` in place of `segment`; false (copy dropped) if it went away. */
export async function swapInCompactedSegment(state: LogState, segment: Segment, swapPath: string): Promise<boolean> {
  const { fileSystem } = state.environment;
  const index = state.segments.indexOf(segment);
  if (index < 0 || index === state.segments.length - 1 || state.closed || state.readOnlyError !== null) {
    await fileSystem.unlink(swapPath).catch(() => undefined);
    return false;
  }
  try {
    segment.retire();
    await fileSystem.rename(swapPath, segment.logPath);
    for (const path of [segment.offsetIndexPath, segment.timeIndexPath])
      await fileSystem.unlink(path).catch(() => undefined);
    await fileSystem.syncDirectory(state.directory);
    const fresh = await Segment.open(state.environment, state.directory, segment.baseOffset);
    // The `.txnindex` stays as it is: compaction keeps control batches and offsets.
    fresh.transactionIndex.fileExists = segment.transactionIndex.fileExists;
    fresh.transactionIndex.required = segment.transactionIndex.required;
    const cut = await rebuildSegment(state.environment, fresh, state.logger);
    invariant(cut === null, () => `compaction wrote an invalid segment: ${JSON.stringify(cut)}`);
    state.segments[state.segments.indexOf(segment)] = fresh;
    state.noteIndexUse(fresh);
    segment.close().catch(() => undefined);
    return true;
  } catch (error) {
    state.markReadOnly('compaction swap', error);
    throw state.toStorageError(error);
  }
}

/** Rounds of retention and compaction, one after another. */
export class BackgroundWork {
  private chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly state: LogState,
    private readonly trimmer: LogTrimmer,
    /** The log itself, as compaction sees it. */
    private readonly target: CompactionTarget,
  ) {}

  /** One round after those under way. Never rejects: failures are logged, and a disk failure has
   *  already turned the partition read-only. */
  run(): Promise<void> {
    const { state } = this;
    const run = async () => {
      if (state.closed || state.readOnlyError !== null) return;
      try {
        await this.trimmer.applyRetention();
        if (state.config.cleanupPolicy.compact)
          await compactLog(this.target, { clock: state.environment.clock, logger: state.logger });
      } catch (error) {
        state.logger.log('warn', 'background-work-failed', {
          directory: state.directory,
          error: (error as Error).message,
        });
      }
    };
    this.chain = this.chain.then(run, run);
    return this.chain;
  }

  /** Resolves once the round under way (if any) has ended. */
  settled(): Promise<void> {
    return this.chain;
  }
}
