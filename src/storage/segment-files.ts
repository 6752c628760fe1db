// Names of the files in a partition directory.
//
//   00000000000000000000.log         batches, named by the segment's base offset (20 digits)
//   00000000000000000000.index       offset index        (offset-index.ts)
//   00000000000000000000.timeindex   time index          (time-index.ts)
//   00000000000000000000.txnindex    aborted transactions whose marker is in the segment (transaction-index.ts)
//   *.deleted                        a segment being deleted (retention); removed after a delay
//   *.cleaned, *.swap                compaction output not yet (cleaned) / fully (swap) committed
//   *.tmp                            a checkpoint being written atomically

export const logSuffix = '.log';
export const offsetIndexSuffix = '.index';
export const timeIndexSuffix = '.timeindex';
export const transactionIndexSuffix = '.txnindex';
export const deletedSuffix = '.deleted';
export const cleanedSuffix = '.cleaned';
export const swapSuffix = '.swap';
export const temporarySuffix = '.tmp';

export function segmentFileName(baseOffset: number, suffix: string): string {
  return `${String(baseOffset).padStart(20, '0')}${suffix}`;
}

/** The base offset a segment file is named after, or null if `name` is not a segment file. */
export function parseSegmentFileName(name: string): { baseOffset: number; suffix: string } | null {
  const match = /^(\d{20})(\.log|\.index|\.timeindex|\.txnindex)(\.deleted|\.cleaned|\.swap)?$/.exec(name);
  if (match === null) return null;
  const baseOffset = Number(match[1]);
  if (!Number.isSafeInteger(baseOffset)) return null;
  return { baseOffset, suffix: `${match[2]}${match[3] ?? ''}` };
}

/** `<topic>-<partition>` → its parts; null if the name does not end in `-<number>`. */
export function parsePartitionDirectoryName(name: string): { topic: string; partition: number } | null {
  const match = /^(.+)-(\d+)$/.exec(name);
  if (match === null) return null;
  return { topic: match[1]!, partition: Number(match[2]) };
}

export function partitionDirectoryName(topic: string, partition: number): string {
  return `${topic}-${partition}`;
}
