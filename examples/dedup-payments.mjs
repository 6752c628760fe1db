// Payments delivered more than once (a producer retry, a re-delivery after a crash) are applied
// once: the consumer skips a payment id that already completed, and never runs two at once.
//   node examples/dedup-payments.mjs
import { Consumer, MemoryDedupStore, Producer, jsonSerde, stringSerde } from '../dist/src/index.js';

const bootstrap = process.env.SLUICE_BOOTSTRAP ?? '127.0.0.1:9092';
const topic = `payments-${Date.now()}`;
const payment = jsonSerde();
const producer = new Producer({ bootstrap, keySerializer: stringSerde.serialize, valueSerializer: payment.serialize });
// 10 payments, each sent three times.
const sent = [];
for (let copy = 0; copy < 3; copy++) for (let i = 0; i < 10; i++) sent.push({ key: `account-${i % 3}`, value: { paymentId: `pay-${i}`, cents: 100 * i }, partition: 0 });
await producer.sendBatch(topic, sent);
await producer.close();

const balances = new Map();
let seen = 0;
let allSeen;
const finished = new Promise((resolve) => (allSeen = resolve));
const count = () => {
  if (++seen === sent.length) allSeen();
};
const consumer = new Consumer({
  bootstrap,
  autoOffsetReset: 'earliest',
  concurrency: 8,
  valueDeserializer: payment.deserialize,
  // Any store with claim/complete/release works: MemoryDedupStore (bounded LRU) for one process,
  // a shared store (Redis, a SQL table) for several.
  dedup: { id: (m) => m.value.paymentId, store: new MemoryDedupStore({ maxEntries: 100_000 }), ttlMs: 24 * 3600 * 1000, onDuplicate: count },
});
consumer.assign([{ topic, partition: 0 }]);
await consumer.run(async ({ key, value }) => {
  balances.set(key.toString(), (balances.get(key.toString()) ?? 0) + value.cents);
  count();
});
await finished;
await consumer.close();
console.log('balances (each payment applied once):', Object.fromEntries(balances));
