// Which whole segments retention deletes, oldest first (as Kafka):
//   retention.ms     a segment whose largest timestamp is older than now − retention.ms; the
//                    active segment too (the log rolls first), so an idle partition empties.
//   retention.bytes  the oldest sealed segments while the partition minus that segment is still
//                    at least retention.bytes.
// Deletion stops at the first segment that must stay, so what is left is a contiguous tail.

import type { LogConfig } from './limits.js';
import { noTimestamp } from './segment.js';

export interface SegmentSummary {
  sizeBytes: number;
  maxTimestamp: number;
  isEmpty: boolean;
}

/** How many segments, from the oldest, to delete. */
export function selectSegmentsToDelete(
  segments: readonly SegmentSummary[],
  config: Pick<LogConfig, 'retentionMs' | 'retentionBytes'>,
  nowMs: number,
): number {
  let byTime = 0;
  if (config.retentionMs >= 0) {
    for (const [index, segment] of segments.entries()) {
      // An empty segment before the active one (compaction emptied it) holds nothing to keep.
      if (segment.isEmpty && index < segments.length - 1) {
        byTime += 1;
        continue;
      }
      if (segment.isEmpty || segment.maxTimestamp === noTimestamp || nowMs - segment.maxTimestamp <= config.retentionMs)
        break;
      byTime += 1;
    }
  }
  let bySize = 0;
  if (config.retentionBytes >= 0) {
    let excess = segments.reduce((sum, segment) => sum + segment.sizeBytes, 0) - config.retentionBytes;
    for (const segment of segments.slice(0, -1)) {
      if (excess - segment.sizeBytes < 0) break;
      excess -= segment.sizeBytes;
      bySize += 1;
    }
  }
  return Math.max(byTime, bySize);
}
