// A points service: awards one point per euro of every order the order service created. It is an
// ordinary consumer of `orders` — half messages need nothing special on the consuming side: a message
// is there once its order was committed, and never for an order that was rolled back.
//
//   node examples/half-messages/points-service.mjs [--bootstrap host:port] [--group points-service] [--exit-after N]
import { parseArgs } from 'node:util';
import { Admin, Consumer, jsonSerde, stringSerde } from '../../dist/src/index.js';

const { values } = parseArgs({
  options: {
    bootstrap: { type: 'string', default: process.env.SLUICE_BOOTSTRAP ?? '127.0.0.1:9092' },
    group: { type: 'string', default: 'points-service' },
    'exit-after': { type: 'string' },
  },
});
const bootstrap = values.bootstrap;
const exitAfter = values['exit-after'] === undefined ? Infinity : Number(values['exit-after']);

const admin = new Admin({ bootstrap });
await admin.createTopics([{ name: 'orders', partitions: 3 }], { ignoreExisting: true });
await admin.close();

const points = new Map();
let handled = 0;
const consumer = new Consumer({
  bootstrap,
  groupId: values.group,
  autoOffsetReset: 'earliest',
  keyDeserializer: stringSerde.deserialize,
  valueDeserializer: jsonSerde().deserialize,
});
consumer.subscribe(['orders']);
const stop = () => consumer.close().then(() => process.exit(0));
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
await consumer.run(async (message) => {
  const order = message.value;
  const awarded = Math.floor(order.cents / 100);
  points.set(order.customer, (points.get(order.customer) ?? 0) + awarded);
  const halfId = message.headers['sluice.half.id']?.toString();
  console.log(`[points-service] order ${order.id}: +${awarded} points for ${order.customer} (now ${points.get(order.customer)}) — orders/${message.partition}@${message.offset}, half message ${halfId}`);
  if (++handled >= exitAfter) setImmediate(stop);
});
console.log(`[points-service] consuming orders in group ${values.group} (Ctrl-C stops)`);
