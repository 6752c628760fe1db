// A handler that fails on some messages: each is retried 3 times with backoff, then published to
// `<topic>.DLQ` with headers saying where it came from and why; the other messages go on.
//   node examples/retry-dead-letter.mjs
import { Admin, Consumer, DLQ_HEADERS, Producer, stringSerde } from '../dist/src/index.js';

const bootstrap = process.env.SLUICE_BOOTSTRAP ?? '127.0.0.1:9092';
const topic = `invoices-${Date.now()}`;
const admin = new Admin({ bootstrap });
await admin.createTopics([{ name: topic, partitions: 1 }, { name: `${topic}.DLQ`, partitions: 1 }]);
await admin.close();

const producer = new Producer({ bootstrap, keySerializer: stringSerde.serialize, valueSerializer: stringSerde.serialize });
await producer.sendBatch(topic, Array.from({ length: 20 }, (_, i) => ({ key: `invoice-${i}`, value: i % 7 === 3 ? 'malformed' : `amount=${i * 10}` })));
await producer.close();

let handled = 0;
const consumer = new Consumer({
  bootstrap,
  groupId: `invoice-processors-${topic}`,
  autoOffsetReset: 'earliest',
  concurrency: 4,
  retry: { maxAttempts: 3, backoff: { initialMs: 100, maxMs: 1000, jitter: 0.2 } }, // or { delaysMs: [100, 500] }
  deadLetter: true, // to `${topic}.DLQ`
  valueDeserializer: stringSerde.deserialize,
  onError: (error, message) => message && console.log(`attempt ${message.attempt} of offset ${message.offset} failed: ${error.message}`),
});
consumer.assign([{ topic, partition: 0 }]);
await consumer.run(async (message) => {
  if (message.value === 'malformed') throw new Error('cannot parse invoice');
  handled++;
});

const deadLetters = new Consumer({ bootstrap, autoOffsetReset: 'earliest', keyDeserializer: stringSerde.deserialize, valueDeserializer: stringSerde.deserialize });
deadLetters.assign([{ topic: `${topic}.DLQ`, partition: 0 }]);
let dead = 0;
let allDead;
const finished = new Promise((resolve) => (allDead = resolve));
await deadLetters.run(async (m) => {
  const h = (name) => m.headers[name]?.toString();
  console.log(`dead letter ${m.key}: from ${h(DLQ_HEADERS.topic)}/${h(DLQ_HEADERS.partition)}@${h(DLQ_HEADERS.offset)} after ${h(DLQ_HEADERS.attempts)} attempts: ${h(DLQ_HEADERS.error)}`);
  if (++dead === 3) allDead();
});
await finished;
await consumer.close();
await deadLetters.close();
console.log(`${handled} invoices handled, ${dead} dead-lettered`);
