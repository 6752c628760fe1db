// Orders of many customers processed 16 at a time, each customer's orders strictly in order.
// Run against a broker (`npm start` in another terminal), after `npm run build`:
//   node examples/ordered-orders.mjs            (SLUICE_BOOTSTRAP=host:port to use another broker)
import { Admin, Consumer, Producer, jsonSerde, stringSerde } from '../dist/src/index.js';

const bootstrap = process.env.SLUICE_BOOTSTRAP ?? '127.0.0.1:9092';
const topic = `orders-${Date.now()}`;
const admin = new Admin({ bootstrap });
await admin.createTopics([{ name: topic, partitions: 4 }]);
await admin.close();

const order = jsonSerde();
const producer = new Producer({ bootstrap, keySerializer: stringSerde.serialize, valueSerializer: order.serialize });
const orders = Array.from({ length: 2000 }, (_, i) => ({ key: `customer-${i % 50}`, value: { customer: `customer-${i % 50}`, step: Math.floor(i / 50) } }));
await producer.sendBatch(topic, orders);
await producer.close();
console.log(`produced ${orders.length} orders of 50 customers to ${topic}`);

const lastStep = new Map();
let done = 0;
let running = 0;
let peak = 0;
const consumer = new Consumer({
  bootstrap,
  groupId: `order-processors-${topic}`,
  concurrency: 16, // 16 customers at a time; one customer's orders never overlap
  autoOffsetReset: 'earliest',
  keyDeserializer: stringSerde.deserialize,
  valueDeserializer: order.deserialize,
});
consumer.subscribe([topic]);
let allDone;
const finished = new Promise((resolve) => (allDone = resolve));
await consumer.run(async ({ key, value }) => {
  running++;
  peak = Math.max(peak, running);
  await new Promise((resolve) => setTimeout(resolve, Math.random() * 5)); // the "work"
  running--;
  const previous = lastStep.get(key) ?? -1;
  if (value.step !== previous + 1) throw new Error(`${key}: step ${value.step} after ${previous}`);
  lastStep.set(key, value.step);
  if (++done === orders.length) allDone();
});
await finished;
// close() waits for running handlers, so call it from outside the handler.
await consumer.close();
console.log(`processed ${done} orders in per-customer order, up to ${peak} at a time`);
