// Test helpers for half messages: a broker with short check delays, and a producer that speaks the
// channel of docs/half-messages.md over the wire (kafkajs), as a client in another language would.
import kafkajs from 'kafkajs';
import { readPartition, type ReadRecord } from '../../support/read-partition.js';
import { startTestBroker, type TestBroker } from '../../support/test-broker.js';

const { Kafka, logLevel } = kafkajs;
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/** Checks after 200 ms, then 400 ms apart (the backoff cap), three of them, then abandoned. */
export const halfProperties: Record<string, string> = {
  'offsets.topic.num.partitions': '1',
  'transaction.state.log.num.partitions': '1',
  'transaction.check.delay.ms': '200',
  'sluice.transaction.check.backoff.max.ms': '400',
  'transaction.check.max': '3',
  'sluice.half.log.num.partitions': '2',
};

export async function startHalfBroker(
  options: { dataDir?: string; port?: number; properties?: Record<string, string> } = {},
): Promise<TestBroker> {
  return startTestBroker({ ...options, properties: { ...halfProperties, ...options.properties } });
}

export async function restart(server: TestBroker, properties: Record<string, string> = {}): Promise<TestBroker> {
  await server.stop();
  return startHalfBroker({ dataDir: server.dataDir, port: server.port, properties });
}

export interface HalfMessage {
  topic: string;
  partition: number;
  group: string;
  key?: string;
  value: string;
  timestamp?: number;
  headers?: Record<string, string>;
}

export class ChannelProducer {
  private constructor(private readonly producer: kafkajs.Producer) {}

  static async connect(server: TestBroker): Promise<ChannelProducer> {
    const kafka = new Kafka({
      brokers: [server.bootstrap],
      clientId: 'half-test',
      logLevel: logLevel.NOTHING,
      retry: { retries: 8, initialRetryTime: 100 },
    });
    const producer = kafka.producer();
    await producer.connect();
    return new ChannelProducer(producer);
  }

  /** Writes a raw record to `__sluice_half` partition p; returns its half id. */
  async sendRaw(
    p: number,
    message: { key?: string; value: string; timestamp?: number; headers: Record<string, string> },
  ): Promise<string> {
    const [metadata] = await this.producer.send({
      topic: '__sluice_half',
      acks: -1,
      messages: [
        {
          partition: p,
          key: message.key ?? null,
          value: message.value,
          headers: message.headers,
          ...(message.timestamp !== undefined ? { timestamp: String(message.timestamp) } : {}),
        },
      ],
    });
    return `${p}:${metadata!.baseOffset}`;
  }

  /** A half message for `message.topic`, sent to `__sluice_half` partition p. */
  sendHalf(message: HalfMessage, p = 0): Promise<string> {
    return this.sendRaw(p, {
      ...(message.key !== undefined ? { key: message.key } : {}),
      value: message.value,
      ...(message.timestamp !== undefined ? { timestamp: message.timestamp } : {}),
      headers: {
        ...message.headers,
        'sluice.half.topic': message.topic,
        'sluice.half.partition': String(message.partition),
        'sluice.half.group': message.group,
      },
    });
  }

  /** A decision (or any op value) for a half id, to the op partition of the same p. */
  async op(id: string, value: object | string): Promise<void> {
    const p = Number(id.split(':')[0]);
    await this.producer.send({
      topic: '__sluice_half_op',
      acks: -1,
      messages: [{ partition: p, key: id, value: typeof value === 'string' ? value : JSON.stringify(value) }],
    });
  }

  /** Several op records for one half id in one batch: the broker reads them in one pass. */
  async ops(id: string, values: object[]): Promise<void> {
    const p = Number(id.split(':')[0]);
    await this.producer.send({
      topic: '__sluice_half_op',
      acks: -1,
      messages: values.map((value) => ({ partition: p, key: id, value: JSON.stringify(value) })),
    });
  }

  commit(id: string): Promise<void> {
    return this.op(id, { op: 'commit' });
  }

  rollback(id: string): Promise<void> {
    return this.op(id, { op: 'rollback' });
  }

  async close(): Promise<void> {
    await this.producer.disconnect();
  }
}

export async function read(server: TestBroker, topic: string, partition = 0): Promise<ReadRecord[]> {
  if (!server.broker.partitions.get(topic, partition)) return [];
  return readPartition(server.port, topic, partition);
}

/** The op records of one half id, in log order. */
export async function opsOf(server: TestBroker, id: string): Promise<Array<Record<string, unknown>>> {
  const records = await read(server, '__sluice_half_op', Number(id.split(':')[0]));
  return records.filter((r) => r.key === id).map((r) => JSON.parse(r.value!) as Record<string, unknown>);
}

export async function waitFor(
  what: string,
  condition: () => boolean | Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
