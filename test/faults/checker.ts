// The fault bed's checker, in the style of Jepsen's queue and log workloads: what the writers were told
// (the history) against what a reader finds afterwards.
//
//   lost          an acknowledged value (or one of a transaction whose commit was acknowledged) that
//                 no read finds
//   duplicated    a value found more than once (every writer is idempotent or transactional)
//   reordered     two values one writer had acknowledged, in that order, for one partition, found at
//                 offsets in the other order
//   aborted read  a value of a transaction whose abort was acknowledged, seen by read_committed
//   divergent     (counted by the bed) a partition whose replicas' logs differ once the cluster healed
//
// A value whose write failed or whose transaction's outcome is unknown may be found or not, once at most.
// Pure functions: test/fault-checker.test.ts feeds them hand-made histories.

export interface Acknowledged {
  writer: string;
  value: string;
  partition: number;
}

export interface History {
  /** Non-transactional writes, in the order each writer was told of them. */
  acknowledged: Acknowledged[];
  /** Values of transactions whose commit was acknowledged, with their partitions. */
  committed: Acknowledged[];
  /** Values of transactions whose abort was acknowledged. */
  aborted: string[];
}

/** What a reader found: per partition, the values in offset order. */
export type PartitionReads = Map<number, string[]>;

export interface Report {
  lost: string[];
  duplicated: string[];
  reordered: string[];
  abortedReads: string[];
  /** Values found in all (read_uncommitted). */
  found: number;
}

/** `uncommitted`: everything in the logs (read_uncommitted); `committed`: what read_committed returns. */
export function check(history: History, uncommitted: PartitionReads, committed: PartitionReads): Report {
  const positions = new Map<string, { partition: number; index: number }[]>();
  let found = 0;
  for (const [partition, values] of uncommitted)
    values.forEach((value, index) => {
      found++;
      const seen = positions.get(value);
      if (seen === undefined) positions.set(value, [{ partition, index }]);
      else seen.push({ partition, index });
    });
  const committedValues = new Set<string>();
  for (const values of committed.values()) for (const value of values) committedValues.add(value);

  const lost = history.acknowledged.filter((w) => !positions.has(w.value)).map((w) => w.value);
  lost.push(...history.committed.filter((w) => !committedValues.has(w.value)).map((w) => w.value));
  const duplicated = [...positions].filter(([, at]) => at.length > 1).map(([value]) => value);
  const abortedReads = history.aborted.filter((value) => committedValues.has(value));

  // Per writer and partition, the acknowledged values must be found at increasing offsets.
  const reordered: string[] = [];
  const last = new Map<string, { value: string; index: number }>();
  for (const w of [...history.acknowledged, ...history.committed]) {
    const at = positions.get(w.value)?.find((p) => p.partition === w.partition);
    if (at === undefined) continue;
    const key = `${w.writer}\u0000${w.partition}`;
    const before = last.get(key);
    if (before !== undefined && at.index < before.index) reordered.push(`${before.value} after ${w.value}`);
    last.set(key, { value: w.value, index: at.index });
  }
  return { lost, duplicated, reordered, abortedReads, found };
}

/** One line per kind, for the run's output and the closing note. */
export function describe(report: Report, divergent: number): string {
  const some = (list: string[]) => (list.length === 0 ? '' : ` (e.g. ${list.slice(0, 5).join(', ')})`);
  return [
    `found ${report.found} values`,
    `lost ${report.lost.length}${some(report.lost)}`,
    `duplicated ${report.duplicated.length}${some(report.duplicated)}`,
    `reordered ${report.reordered.length}${some(report.reordered)}`,
    `aborted reads ${report.abortedReads.length}${some(report.abortedReads)}`,
    `divergent ${divergent}`,
  ].join('; ');
}
