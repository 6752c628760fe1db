// sluice bench produce|consume|e2e NAME: throughput and latency of the Sluice client.
import { Admin } from '../../client/admin.js';
import { Consumer } from '../../client/consumer.js';
import { Producer, type CompressionName } from '../../client/producer.js';
import { integerValue, parseArguments, ToolUsageError, value } from './args.js';
import { clientOptions, type ToolIo } from './io.js';

export const benchHelp = `Usage: sluice bench <produce|consume|e2e> NAME [flags]

  produce   sends --messages of --size bytes as fast as the producer takes them (acks=all)
  consume   reads --messages from the beginning of NAME
  e2e       produces at --rate messages/s while consuming; latency = consume time − produce time

Prints a progress bar while running and a summary: msgs/s, MB/s, latency percentiles (p50 p90 p99 max).

Flags:
  --messages N             default 100000
  --size BYTES             value size for produce/e2e (default 100)
  --compression CODEC      none (default), gzip, snappy, lz4, zstd
  --rate N                 e2e: messages per second (default 10000)
  --bootstrap <host:port>  default 127.0.0.1:9092
`;

const BAR_WIDTH = 30;

export async function runBench(argv: readonly string[], io: ToolIo): Promise<number> {
  const args = parseArguments(argv, { values: ['messages', 'size', 'compression', 'rate'], flags: [] });
  if (args.flags.has('help')) {
    io.out(benchHelp);
    return 0;
  }
  const [mode, topic, ...extra] = args.positionals;
  if (mode !== 'produce' && mode !== 'consume' && mode !== 'e2e')
    throw new ToolUsageError(
      mode === undefined
        ? 'bench needs a mode: produce, consume or e2e'
        : `unknown bench mode "${mode}" (produce, consume, e2e)`,
    );
  if (!topic) throw new ToolUsageError(`bench ${mode} needs a topic name`);
  if (extra.length > 0) throw new ToolUsageError(`unexpected argument "${extra[0]}"`);
  const messages = integerValue(args, 'messages', 1) ?? 100_000;
  const size = integerValue(args, 'size', 0) ?? 100;
  const rate = integerValue(args, 'rate', 1) ?? 10_000;
  const compression = (value(args, 'compression') ?? 'none') as CompressionName;
  if (!['none', 'gzip', 'snappy', 'lz4', 'zstd'].includes(compression))
    throw new ToolUsageError(`--compression must be none, gzip, snappy, lz4 or zstd, got "${compression}"`);
  const options = clientOptions(value(args, 'bootstrap'));
  const progress = progressBar(io, messages);
  const latencies: number[] = [];
  let bytes = 0;
  const started = performance.now();

  if (mode === 'produce') {
    const producer = new Producer({
      ...options,
      compression,
      allowAutoTopicCreation: true,
      lingerMs: 5,
      batchBytes: 256 * 1024,
    });
    const payload = Buffer.alloc(size, 0x61);
    const chunk = 1000;
    const inFlight: Array<Promise<void>> = [];
    try {
      for (let sent = 0; sent < messages; sent += chunk) {
        const count = Math.min(chunk, messages - sent);
        const sentAt = performance.now();
        inFlight.push(
          producer
            .sendBatch(
              topic,
              Array.from({ length: count }, () => ({ value: payload })),
            )
            .then(() => {
              const latency = performance.now() - sentAt;
              for (let i = 0; i < count; i++) latencies.push(latency);
              bytes += count * size;
              progress.add(count);
            }),
        );
        if (inFlight.length >= 16) await inFlight.shift();
      }
      await Promise.all(inFlight);
    } finally {
      await producer.close();
    }
  } else if (mode === 'consume') {
    const admin = new Admin(options);
    const partitions = (await admin.describeTopics([topic]).finally(() => admin.close()))[0]!.partitions.length;
    const consumer = new Consumer({
      ...options,
      maxWaitMs: 100,
      partitionMaxBytes: 4 * 1024 * 1024,
      maxBufferedMessages: 50_000,
    });
    consumer.assign(
      Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'earliest' as const })),
    );
    let received = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    await consumer.run(async (message) => {
      if (received >= messages) return;
      received++;
      bytes += message.value?.length ?? 0;
      progress.add(1);
      if (received === messages) done();
    });
    await Promise.race([finished, io.interrupted]);
    await consumer.close();
  } else {
    const producer = new Producer({ ...options, compression, allowAutoTopicCreation: true, lingerMs: 1 });
    const consumer = new Consumer({ ...options, maxWaitMs: 10, autoOffsetReset: 'latest' });
    await producer.connect();
    const partitions = (await producer.cluster.topic(topic)).partitions.length;
    consumer.assign(
      Array.from({ length: partitions }, (_, partition) => ({ topic, partition, offset: 'latest' as const })),
    );
    let received = 0;
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    const payload = Buffer.alloc(Math.max(size, 8), 0x61);
    await consumer.run(async (message) => {
      if (!message.value || message.value.length < 8 || received >= messages) return;
      latencies.push(performance.timeOrigin + performance.now() - message.value.readDoubleBE(0));
      received++;
      bytes += message.value.length;
      progress.add(1);
      if (received === messages) done();
    });
    await new Promise((resolve) => setTimeout(resolve, 500)); // the consumer's positions are resolved
    const tick = 10;
    const perTick = Math.max(1, Math.round((rate * tick) / 1000));
    let sent = 0;
    const timer = setInterval(() => {
      for (let i = 0; i < perTick && sent < messages; i++, sent++) {
        const value = Buffer.from(payload);
        value.writeDoubleBE(performance.timeOrigin + performance.now(), 0);
        producer.send(topic, { value }).catch(() => undefined);
      }
      if (sent >= messages) clearInterval(timer);
    }, tick);
    await Promise.race([finished, io.interrupted]);
    clearInterval(timer);
    await producer.close();
    await consumer.close();
  }

  progress.finish();
  const seconds = (performance.now() - started) / 1000;
  const count = progress.count;
  io.out(
    `${mode}: ${count} messages in ${seconds.toFixed(2)} s — ` +
      `${Math.round(count / seconds).toLocaleString('en')} msgs/s, ${(bytes / seconds / 1e6).toFixed(1)} MB/s\n`,
  );
  if (latencies.length > 0) {
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))]!.toFixed(1);
    io.out(
      `latency ms: p50 ${at(0.5)}  p90 ${at(0.9)}  p99 ${at(0.99)}  ` +
        `max ${latencies[latencies.length - 1]!.toFixed(1)}\n`,
    );
  }
  return 0;
}

function progressBar(io: ToolIo, total: number): { add(n: number): void; finish(): void; count: number } {
  let last = -1;
  const state = {
    count: 0,
    add(n: number) {
      state.count += n;
      const filled = Math.floor((state.count / total) * BAR_WIDTH);
      if (filled !== last) {
        last = filled;
        io.err(`\r[${'#'.repeat(filled)}${'.'.repeat(BAR_WIDTH - filled)}] ${state.count}/${total}`);
      }
    },
    finish() {
      io.err('\n');
    },
  };
  return state;
}
