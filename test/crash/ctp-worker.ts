// A consume-transform-produce worker for transactions-ctp-kill9.test.ts, run as its own process:
//   node ctp-worker.js <bootstrap> <crash-after-transactions | -1>
// Reads `ctp-k9-in` in group `ctp-k9`, and for every slice of up to 5 records writes `out-<value>` to
// `ctp-k9-out` and the slice's next offset in one transaction (transactional id `ctp-k9`). With a
// crash count it stops after that many commits in the middle of the next transaction (records and
// offsets sent, no commit), prints "in-transaction" and waits to be killed.
import kafkajs from 'kafkajs';

const [bootstrap, crashAfterArg] = process.argv.slice(2);
const crashAfter = Number(crashAfterArg);
const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

async function main(): Promise<void> {
  const kafka = new Kafka({
    brokers: [bootstrap!],
    clientId: 'ctp-worker',
    logLevel: logLevel.NOTHING,
    retry: { retries: 10, initialRetryTime: 100 },
  });
  const producer = kafka.producer({ transactionalId: 'ctp-k9', maxInFlightRequests: 1, idempotent: true });
  const consumer = kafka.consumer({
    groupId: 'ctp-k9',
    readUncommitted: false,
    sessionTimeout: 3000,
    rebalanceTimeout: 6000,
    heartbeatInterval: 300,
    maxWaitTimeInMs: 200,
  });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: 'ctp-k9-in', fromBeginning: true });
  let committed = 0;
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      for (let start = 0; start < batch.messages.length; start += 5) {
        const slice = batch.messages.slice(start, start + 5);
        const transaction = await producer.transaction();
        await transaction.send({
          topic: 'ctp-k9-out',
          messages: slice.map((m) => ({ value: `out-${m.value!.toString()}` })),
        });
        const next = Number(slice[slice.length - 1]!.offset) + 1;
        await transaction.sendOffsets({
          consumerGroupId: 'ctp-k9',
          topics: [{ topic: batch.topic, partitions: [{ partition: batch.partition, offset: String(next) }] }],
        });
        if (crashAfter >= 0 && committed >= crashAfter) {
          process.stdout.write('in-transaction\n');
          await new Promise(() => undefined); // killed here, the transaction open
        }
        await transaction.commit();
        committed++;
        for (const m of slice) resolveOffset(m.offset);
        await heartbeat();
      }
    },
  });
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
