// One of two consumer processes racing on duplicate ids through a shared Redis store. Consumes the
// given partition and logs, synchronously, "s <id> <pid>" when a handler starts and "e <id> <pid>"
// when it ends; prints "all" once `expected` messages were handled or skipped.
// Usage: node dedup-consumer-child.js <bootstrap> <topic> <partition> <redisPort> <logPath> <expected>
import { openSync, writeSync } from 'node:fs';
import { Consumer } from '../../../src/client/consumer.js';
import { RedisDedupStore } from '../../../src/client/redis-dedup-store.js';
import { stringSerde } from '../../../src/client/serializers.js';

const [bootstrap, topic, partition, redisPort, logPath, expected] = process.argv.slice(2) as [
  string,
  string,
  string,
  string,
  string,
  string,
];
const log = openSync(logPath, 'a');
const store = new RedisDedupStore({ port: Number(redisPort), keyPrefix: 'race:' });
let seen = 0;
const count = () => {
  if (++seen === Number(expected)) process.stdout.write('all\n');
};
const consumer = new Consumer<string, string>({
  bootstrap,
  autoOffsetReset: 'earliest',
  concurrency: 8,
  valueDeserializer: stringSerde.deserialize,
  dedup: { id: (m) => m.value!, store, pollMs: 5, onDuplicate: count },
});
consumer.assign([{ topic, partition: Number(partition) }]);
await consumer.run(async (message) => {
  writeSync(log, `s ${message.value} ${process.pid}\n`);
  await new Promise((resolve) => setTimeout(resolve, 5 + Math.random() * 10));
  writeSync(log, `e ${message.value} ${process.pid}\n`);
  count();
});
process.on('SIGTERM', () => {
  void consumer
    .close()
    .then(() => store.close())
    .then(() => process.exit(0));
});
