// Child process of the kill -9 suite: opens (and so recovers) a partition log and appends under
// the `sync` flush policy as fast as it can, 16 appends in flight, printing one line per
// acknowledged batch: "ack <baseOffset> <lastOffset>". The parent SIGKILLs it at a random moment.
//
// A batch's content is a pure function of its base offset (crashBatchFor), so the parent can check
// every batch that survives, acknowledged or not, byte for byte.
//   usage: node appender.js <partition-directory> [sync|os|interval:<ms>]

import { parseFlushPolicy } from '../../src/storage/flush-policy.js';
import { PartitionLog } from '../../src/storage/log.js';
import { MemoryLogger } from '../../src/storage/logger.js';
import { crashBatchFor, crashLogConfig } from './crash-batches.js';

const directory = process.argv[2];
if (directory === undefined) {
  console.error('usage: appender.js <partition-directory>');
  process.exit(2);
}

const flushPolicy = parseFlushPolicy(process.argv[3] ?? 'sync');
const log = await PartitionLog.open({ directory, topic: 'crash', partition: 0, config: { ...crashLogConfig, flushPolicy }, logger: new MemoryLogger() });
process.stdout.write(`ready ${log.logEndOffset}\n`);

const inFlightMax = 16;
let inFlight = 0;
function pump(): void {
  while (inFlight < inFlightMax) {
    const baseOffset = log.logEndOffset;
    inFlight += 1;
    log.append(crashBatchFor(baseOffset)).then(
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
