// Child process of the kill -9 suite: opens (and so recovers) a partition log and appends under
// the `sync` flush policy as fast as it can, 16 appends in flight, printing one line per
// acknowledged batch: "ack <baseOffset> <lastOffset>". The parent SIGKILLs it at a random moment.
//
// A batch's content is a pure function of its base offset (crashBatchFor), so the parent can check
// every batch that survives, acknowledged or not, byte for byte.
// With `compact`, records are keyed (crashKeyedBatchFor; some batches are transactions, committed
// or aborted, with their markers), the partition is compacted, and a
// background loop rolls and compacts it continuously while the appends go on; the parent then
// checks record by record.
// With `retention`, a background loop applies retention.bytes continuously (segments are deleted
// from the front while appends go on).
//   usage: node appender.js <partition-directory> [sync|os|interval:<ms>] [compact|retention]

import { parseFlushPolicy } from '../../src/storage/flush-policy.js';
import { compactLog } from '../../src/storage/compaction.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { systemClock } from '../../src/runtime/clock.js';
import {
  crashBatchFor,
  crashCompactedLogConfig,
  crashKeyedBatchFor,
  crashLogConfig,
  crashRetentionLogConfig,
} from './crash-batches.js';

const directory = process.argv[2];
if (directory === undefined) {
  console.error('usage: appender.js <partition-directory>');
  process.exit(2);
}

const flushPolicy = parseFlushPolicy(process.argv[3] ?? 'sync');
const compacted = process.argv[4] === 'compact';
const retention = process.argv[4] === 'retention';
const config = compacted ? crashCompactedLogConfig : retention ? crashRetentionLogConfig : crashLogConfig;
const batchFor = compacted ? crashKeyedBatchFor : crashBatchFor;
const log = await PartitionLog.open({
  directory,
  topic: 'crash',
  partition: 0,
  config: { ...config, flushPolicy },
  logger: new MemoryLogger(),
});
process.stdout.write(`ready ${log.logEndOffset}\n`);

if (compacted) {
  const logger = new MemoryLogger();
  const compactForever = async (): Promise<void> => {
    for (;;) {
      log.roll();
      await compactLog(log, { clock: systemClock, logger });
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  void compactForever().catch((error: unknown) => {
    process.stderr.write(`compaction failed: ${(error as Error).message}\n`);
    process.exit(5);
  });
}

if (retention) {
  const trimForever = async (): Promise<void> => {
    for (;;) {
      await log.applyRetention();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  };
  void trimForever().catch((error: unknown) => {
    process.stderr.write(`retention failed: ${(error as Error).message}\n`);
    process.exit(6);
  });
}

const inFlightMax = 16;
let inFlight = 0;
function pump(): void {
  while (inFlight < inFlightMax) {
    const baseOffset = log.logEndOffset;
    inFlight += 1;
    log.append(batchFor(baseOffset)).then(
      (result) => {
        if (result.baseOffset !== baseOffset) {
          process.stderr.write(`offset ${result.baseOffset}, expected ${baseOffset}\n`);
          process.exit(3);
        }
        // A pipe write is synchronous on Linux: once this returns the parent will see the line.
        process.stdout.write(`ack ${result.baseOffset} ${result.lastOffset}\n`);
        inFlight -= 1;
        pump();
      },
      (error: unknown) => {
        process.stderr.write(`append failed: ${(error as Error).message}\n`);
        process.exit(4);
      },
    );
  }
}
pump();
