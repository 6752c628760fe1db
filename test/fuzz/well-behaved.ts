// The well-behaved clients that run beside the fuzzer, each pair on its own topic: kcat (librdkafka)
// producing with enable.idempotence and consuming all partitions from the beginning, and kafkajs
// producing idempotently and consuming in a consumer group. Each producer sends numbered messages at
// a steady pace for the whole run. At the end every client must have seen no error at all (librdkafka's
// stderr is empty, kafkajs logged nothing at warn or above, no send failed, no consumer crashed), and
// each consumer must have received every produced message exactly once, in order per partition
// (offsets and sequence numbers both increasing within a partition).
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import kafkajs from 'kafkajs';
import { WELL_BEHAVED } from './vocabulary.js';

const { Kafka, logLevel, Partitioners } = kafkajs;

/** Messages each producer sends per tick, and how often. ~250 msg/s per producer: steady, not a benchmark. */
const MESSAGES_PER_TICK = 5;
const TICK_MS = 20;

export interface WellBehavedReport {
  name: string;
  produced: number;
  consumed: number;
  errors: string[];
  problems: string[];
}

interface Consumed {
  partition: number;
  offset: number;
  sequence: number;
}

/** Problems with what a consumer received, given `produced` messages numbered 0..produced-1. */
export function checkDelivery(consumed: readonly Consumed[], produced: number): string[] {
  const problems: string[] = [];
  const seen = new Set<number>();
  const lastByPartition = new Map<number, Consumed>();
  for (const c of consumed) {
    if (seen.has(c.sequence)) problems.push(`message ${c.sequence} consumed twice`);
    seen.add(c.sequence);
    const previous = lastByPartition.get(c.partition);
    if (previous && (c.offset <= previous.offset || c.sequence <= previous.sequence))
      problems.push(
        `partition ${c.partition}: message ${c.sequence} at offset ${c.offset} after ` +
          `message ${previous.sequence} at offset ${previous.offset}`,
      );
    lastByPartition.set(c.partition, c);
  }
  let missing = 0;
  for (let i = 0; i < produced; i++) if (!seen.has(i)) missing++;
  if (missing > 0) problems.push(`${missing} of ${produced} produced messages never consumed`);
  for (const s of seen) if (s >= produced) problems.push(`message ${s} consumed but never produced`);
  return problems.slice(0, 20);
}

async function until(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return true;
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
  let rest = '';
  stream.setEncoding('utf8');
  stream.on('data', (chunk: string) => {
    const parts = (rest + chunk).split('\n');
    rest = parts.pop()!;
    for (const line of parts) onLine(line);
  });
}

/** kcat -P with enable.idempotence, kcat -C of every partition from the beginning. */
export class KcatPair {
  private producer!: ChildProcessWithoutNullStreams;
  private consumer!: ChildProcessWithoutNullStreams;
  private timer: NodeJS.Timeout | undefined;
  private produced = 0;
  private readonly consumed: Consumed[] = [];
  private readonly errors: string[] = [];
  private producerExit: Promise<number | null> = Promise.resolve(null);

  constructor(private readonly bootstrap: string) {}

  start(): void {
    const topic = WELL_BEHAVED.kcatTopic;
    this.producer = spawn('kcat', [
      ...['-b', this.bootstrap, '-P', '-t', topic, '-K', '\t'],
      ...['-X', 'enable.idempotence=true', '-X', 'linger.ms=5'],
    ]);
    this.consumer = spawn('kcat', [
      ...['-b', this.bootstrap, '-C', '-t', topic, '-o', 'beginning', '-u', '-q'],
      ...['-f', '%p\t%o\t%s\n'],
    ]);
    for (const [name, child] of [
      ['kcat producer', this.producer],
      ['kcat consumer', this.consumer],
    ] as const) {
      lines(child.stderr, (line) => {
        if (line.trim() !== '') this.errors.push(`${name}: ${line}`);
      });
      child.on('error', (error) => this.errors.push(`${name}: ${error.message}`));
    }
    this.producerExit = new Promise((resolve) => this.producer.on('exit', (code) => resolve(code)));
    this.consumer.on('exit', (code, signal) => {
      if (signal !== 'SIGTERM') this.errors.push(`kcat consumer exited early (${signal ?? code})`);
    });
    lines(this.consumer.stdout, (line) => {
      const [partition, offset, value] = line.split('\t');
      const sequence = Number(/^kcat-(\d+)$/.exec(value ?? '')?.[1] ?? NaN);
      if (!Number.isInteger(sequence)) this.errors.push(`kcat consumer: unexpected line ${JSON.stringify(line)}`);
      else this.consumed.push({ partition: Number(partition), offset: Number(offset), sequence });
    });
    this.producer.stdin.on('error', (error) => this.errors.push(`kcat producer stdin: ${error.message}`));
    this.timer = setInterval(() => {
      let batch = '';
      for (let i = 0; i < MESSAGES_PER_TICK; i++, this.produced++)
        batch += `k${this.produced % 7}\tkcat-${this.produced}\n`;
      this.producer.stdin.write(batch);
    }, TICK_MS);
  }

  /** Ends both kcat processes at once (a run that failed before finish()). */
  kill(): void {
    clearInterval(this.timer);
    for (const child of [this.producer, this.consumer])
      if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }

  /** Stops producing, waits for kcat -P to deliver everything and exit, then for the consumer to catch up. */
  async finish(timeoutMs: number): Promise<WellBehavedReport> {
    clearInterval(this.timer);
    this.producer.stdin.end();
    const code = await Promise.race([
      this.producerExit,
      new Promise<string>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs)),
    ]);
    if (code !== 0) this.errors.push(`kcat producer exited with ${code}`);
    await until(() => this.consumed.length >= this.produced, timeoutMs);
    this.consumer.kill('SIGTERM');
    this.producer.kill('SIGKILL');
    return {
      name: 'kcat',
      produced: this.produced,
      consumed: this.consumed.length,
      errors: this.errors.slice(0, 20),
      problems: checkDelivery(this.consumed, this.produced),
    };
  }
}

/** A kafkajs idempotent producer and a kafkajs consumer in its own group. */
export class KafkajsPair {
  private readonly kafka: InstanceType<typeof Kafka>;
  private readonly errors: string[] = [];
  private readonly consumed: Consumed[] = [];
  private produced = 0;
  private producing = true;
  private loop: Promise<void> = Promise.resolve();
  private readonly producer;
  private readonly consumer;

  constructor(bootstrap: string) {
    this.kafka = new Kafka({
      brokers: [bootstrap],
      clientId: 'wb-kafkajs',
      logLevel: logLevel.WARN,
      logCreator: () => (entry) => {
        const { message, ...rest } = entry.log;
        this.errors.push(`kafkajs ${entry.namespace} ${entry.label}: ${message} ${JSON.stringify(rest)}`.slice(0, 500));
      },
    });
    this.producer = this.kafka.producer({
      idempotent: true,
      maxInFlightRequests: 1,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
    this.consumer = this.kafka.consumer({ groupId: WELL_BEHAVED.kafkajsGroup });
  }

  async start(): Promise<void> {
    const topic = WELL_BEHAVED.kafkajsTopic;
    this.consumer.on(this.consumer.events.CRASH, (event) =>
      this.errors.push(`kafkajs consumer crashed: ${String(event.payload.error)}`),
    );
    await this.producer.connect();
    await this.consumer.connect();
    await this.consumer.subscribe({ topic, fromBeginning: true });
    await this.consumer.run({
      eachMessage: async ({ partition, message }) => {
        const sequence = Number(/^kafkajs-(\d+)$/.exec(message.value?.toString() ?? '')?.[1] ?? NaN);
        if (!Number.isInteger(sequence)) this.errors.push(`kafkajs consumer: unexpected value ${message.value}`);
        else this.consumed.push({ partition, offset: Number(message.offset), sequence });
      },
    });
    this.loop = (async () => {
      while (this.producing) {
        const messages = Array.from({ length: MESSAGES_PER_TICK }, (_, i) => ({
          key: `kj-${(this.produced + i) % 7}`,
          value: `kafkajs-${this.produced + i}`,
        }));
        try {
          await this.producer.send({ topic, messages });
          this.produced += messages.length;
        } catch (error) {
          this.errors.push(`kafkajs send failed: ${(error as Error).message}`);
        }
        await new Promise((resolve) => setTimeout(resolve, TICK_MS));
      }
    })();
  }

  async finish(timeoutMs: number): Promise<WellBehavedReport> {
    this.producing = false;
    await this.loop;
    await until(() => this.consumed.length >= this.produced, timeoutMs);
    await this.consumer.disconnect();
    await this.producer.disconnect();
    return {
      name: 'kafkajs',
      produced: this.produced,
      consumed: this.consumed.length,
      errors: this.errors.slice(0, 20),
      problems: checkDelivery(this.consumed, this.produced),
    };
  }
}
