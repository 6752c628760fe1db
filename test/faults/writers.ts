// The fault bed's clients: each writes unique values (`<writer>-<n>`) with acks=all while the nemesis
// runs, and records in the history what it was told. One value per send, to one partition (round
// robin), so an acknowledgement means exactly that value (and kafkajs #1303, which drops a multi-partition
// send's messages when a leader moves, cannot hide a loss).
//
//   kafkajs-<i>   kafkajs idempotent producers, one send in flight
//   kcat          Debian's kcat (librdkafka), idempotent, 50 lines per run to one partition: exit 0
//                 means every line was acknowledged, in order
//   sluice        the Sluice client's producer (idempotent by default), one send at a time
//   txn           a kafkajs transactional producer: two values on two partitions per transaction, then
//                 commit or abort (seeded); an error leaves the transaction's outcome unknown
import kafkajs from 'kafkajs';
import { Producer } from '../../src/client/producer.js';
import { stringSerde } from '../../src/client/serializers.js';
import { runKcat } from '../support/kcat.js';
import type { Random } from '../support/random.js';
import type { History } from './checker.js';

const { Kafka, logLevel } = kafkajs;

export interface WriterContext {
  bootstrap: () => string[];
  topic: string;
  partitions: number;
  history: History;
  random: Random;
}

export interface Writer {
  stop(): Promise<void>;
}

function client(context: WriterContext, clientId: string) {
  return new Kafka({
    brokers: context.bootstrap(),
    clientId,
    logLevel: logLevel.NOTHING,
    // A send that cannot be acknowledged within a few seconds fails (its value is then "unknown").
    retry: { retries: 8, initialRetryTime: 100, maxRetryTime: 1000 },
    requestTimeout: 5000,
  });
}

/** A kafkajs idempotent producer writing until stopped. */
export function kafkajsWriter(context: WriterContext, name: string): Writer {
  let writing = true;
  const running = (async () => {
    let producer = client(context, name).producer({ idempotent: true, maxInFlightRequests: 1 });
    await connectUntil(producer, () => writing);
    for (let n = 0; writing; n++) {
      const value = `${name}-${n}`;
      const partition = n % context.partitions;
      try {
        await producer.send({ topic: context.topic, acks: -1, messages: [{ partition, value }] });
        context.history.acknowledged.push({ writer: name, value, partition });
      } catch {
        // unknown; a fresh producer after a failure starts a new idempotent session
        await producer.disconnect().catch(() => undefined);
        producer = client(context, name).producer({ idempotent: true, maxInFlightRequests: 1 });
        await connectUntil(producer, () => writing);
      }
    }
    await producer.disconnect().catch(() => undefined);
  })();
  return { stop: () => ((writing = false), running) };
}

/** The Sluice client's idempotent producer, one send at a time. */
export function sluiceWriter(context: WriterContext, name = 'sluice'): Writer {
  let writing = true;
  const running = (async () => {
    const producer = new Producer<string, string>({
      bootstrap: context.bootstrap(),
      lingerMs: 0,
      retries: 20,
      valueSerializer: stringSerde.serialize,
    });
    for (let n = 0; writing; n++) {
      const value = `${name}-${n}`;
      const partition = n % context.partitions;
      try {
        await producer.send(context.topic, { value, partition });
        context.history.acknowledged.push({ writer: name, value, partition });
      } catch {
        await new Promise((resolve) => setTimeout(resolve, 100)); // unknown
      }
    }
    await producer.close().catch(() => undefined);
  })();
  return { stop: () => ((writing = false), running) };
}

/** kcat runs of 50 lines each, idempotent, acks=all. */
export function kcatWriter(context: WriterContext, name = 'kcat'): Writer {
  let writing = true;
  const running = (async () => {
    for (let run = 0; writing; run++) {
      const partition = run % context.partitions;
      const values = Array.from({ length: 50 }, (_, i) => `${name}-${run * 50 + i}`);
      try {
        await runKcat(
          context.bootstrap().join(','),
          [
            '-P',
            '-t',
            context.topic,
            '-p',
            String(partition),
            '-X',
            'enable.idempotence=true',
            '-X',
            'acks=all',
            '-X',
            'message.timeout.ms=10000',
          ],
          values.join('\n') + '\n',
          20_000,
        );
        for (const value of values) context.history.acknowledged.push({ writer: name, value, partition });
      } catch {
        // some of them may be in the log: unknown
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    }
  })();
  return { stop: () => ((writing = false), running) };
}

/** A transactional producer: two values per transaction, committed or aborted at random. */
export function transactionalWriter(context: WriterContext, name = 'txn'): Writer {
  let writing = true;
  const running = (async () => {
    const make = () =>
      client(context, name).producer({
        transactionalId: `${name}-fault-bed`,
        idempotent: true,
        maxInFlightRequests: 1,
        transactionTimeout: 10_000,
      });
    let producer = make();
    await connectUntil(producer, () => writing);
    for (let n = 0; writing; n += 2) {
      const values = [`${name}-${n}`, `${name}-${n + 1}`];
      const partitions = [n % context.partitions, (n + 1) % context.partitions];
      const commit = context.random.chance(0.7);
      try {
        const transaction = await producer.transaction();
        for (let i = 0; i < 2; i++)
          await transaction.send({
            topic: context.topic,
            acks: -1,
            messages: [{ partition: partitions[i]!, value: values[i]! }],
          });
        await (commit ? transaction.commit() : transaction.abort());
        if (commit)
          values.forEach((value, i) =>
            context.history.committed.push({ writer: name, value, partition: partitions[i]! }),
          );
        else context.history.aborted.push(...values);
      } catch {
        // the outcome is unknown; a new producer fences the old one and aborts what it left open
        await producer.disconnect().catch(() => undefined);
        producer = make();
        await connectUntil(producer, () => writing);
      }
    }
    await producer.disconnect().catch(() => undefined);
  })();
  return { stop: () => ((writing = false), running) };
}

async function connectUntil(producer: { connect(): Promise<void> }, going: () => boolean): Promise<void> {
  while (going()) {
    try {
      await producer.connect();
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
