// A consumer process for the kill -9 test: consumes `topic` in group `groupId` with concurrency 16
// and random handler delays, and logs to `logPath`, one line per event, written synchronously so a
// kill -9 loses nothing already logged:
//   d <partition> <offset> <key> <seq>   a handler finished
//   c <partition> <offset>               a commit succeeded (next offset to consume)
//   p <n>                                a new peak of handlers running at once
// Usage: node ordered-consumer-child.js <bootstrap> <topic> <groupId> <logPath> <expected>
import { openSync, writeSync } from 'node:fs';
import { Consumer } from '../../../src/client/consumer.js';
import { stringSerde } from '../../../src/client/serializers.js';

const [bootstrap, topic, groupId, logPath, expectedText] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
];
const expected = Number(expectedText);
const log = openSync(logPath, 'a');
let running = 0;
let peak = 0;
let done = 0;
const consumer = new Consumer<string, string>({
  bootstrap,
  groupId,
  concurrency: 16,
  autoOffsetReset: 'earliest',
  autoCommitIntervalMs: 50,
  maxWaitMs: 100,
  heartbeatIntervalMs: 200,
  sessionTimeoutMs: 3000,
  keyDeserializer: stringSerde.deserialize,
  valueDeserializer: stringSerde.deserialize,
  onCommit: (offsets) => {
    writeSync(log, offsets.map((o) => `c ${o.partition} ${o.offset}\n`).join(''));
  },
});
consumer.subscribe([topic]);
await consumer.run(async (message) => {
  running++;
  if (running > peak) {
    peak = running;
    writeSync(log, `p ${peak}\n`);
  }
  // Random delays: 0 to 2 ms, sometimes longer, so keys finish out of offset order.
  const delayMs = Math.random() < 0.02 ? 10 : Math.random() * 2;
  await new Promise((resolve) => setTimeout(resolve, delayMs));
  running--;
  writeSync(log, `d ${message.partition} ${message.offset} ${message.key} ${message.value}\n`);
  done++;
  if (done === expected) process.stdout.write('all\n');
});
process.stdout.write('ready\n');
process.on('SIGTERM', () => {
  void consumer.close().then(() => process.exit(0));
});
