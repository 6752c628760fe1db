// The Sluice client's produce and consume throughput beside kcat's (librdkafka), same broker
// process, same run, 100-byte values on one partition. The goal: at least 50% of kcat's
// msgs/s. Method: each side produces N messages to its own topic (acks=all, linger 5 ms, no
// compression) and consumes them from the beginning; each timed from start to the last ack/message.
// Two sizes by default: 200 000 messages, where start-up (kcat: a process starting; Sluice: connecting
// and the JIT warming up the client's loops, ≈ 50–100 ms) weighs heavily, and 1 000 000, closer to
// steady state; then the steady rate of each side from the difference of the two. `--messages=<n>`
// runs one size.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { runKcat, startBrokerProcess } from './processes.js';
import { Producer } from '../src/client/producer.js';
import { Consumer } from '../src/client/consumer.js';
import { Admin } from '../src/client/admin.js';

const VALUE_BYTES = 100;

function flag(name: string, fallback: number): number {
  const found = process.argv.find((a) => a.startsWith(`--${name}=`));
  return found ? Number(found.split('=')[1]) : fallback;
}

export async function run(): Promise<void> {
  console.log(`machine: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, node ${process.version}`);
  const sizes = process.argv.some((a) => a.startsWith('--messages='))
    ? [flag('messages', 200_000)]
    : [200_000, 1_000_000];
  const runs: Array<{ messages: number; rows: Row[] }> = [];
  for (const messages of sizes) runs.push({ messages, rows: await measure(messages) });
  if (runs.length === 2) printSteadyState(runs[0]!, runs[1]!);
}

interface Row {
  what: string;
  seconds: number;
}

/**
 * Start-up taken out: the rate at which the extra messages of the larger run were handled,
 * (n₂ − n₁) / (t₂ − t₁), for each side. Both timings include a process (kcat) or a client (Sluice)
 * starting, connecting and warming up; the difference leaves the steady rate.
 */
function printSteadyState(small: { messages: number; rows: Row[] }, large: { messages: number; rows: Row[] }): void {
  const extra = large.messages - small.messages;
  const rate = (what: string) =>
    extra / (large.rows.find((r) => r.what === what)!.seconds - small.rows.find((r) => r.what === what)!.seconds);
  console.log(`\nsteady state: the ${extra} messages the ${large.messages} run has beyond the ${small.messages} run`);
  // A side whose smaller run took as long as its larger one had an outlier (a stall in one run): no
  // steady rate can be read from that pair.
  const measurable = (side: string) => rate(`${side} kcat`) > 0 && rate(`${side} sluice`) > 0;
  for (const side of ['produce', 'consume']) {
    const kcat = rate(`${side} kcat`);
    const sluice = rate(`${side} sluice`);
    if (!measurable(side))
      console.log(
        `  ${side.padEnd(8)} not measurable: one side's ${small.messages} run was not faster ` +
          `than its ${large.messages} run (an outlier; run again)`,
      );
    else
      console.log(
        `  ${side.padEnd(8)} kcat ${Math.round(kcat).toLocaleString('en').padStart(10)} msgs/s   ` +
          `sluice ${Math.round(sluice).toLocaleString('en').padStart(10)} msgs/s   ` +
          `sluice/kcat ${((sluice / kcat) * 100).toFixed(0)}%`,
      );
  }
  const ratio = (rows: Row[], side: string) =>
    rows.find((r) => r.what === `${side} kcat`)!.seconds / rows.find((r) => r.what === `${side} sluice`)!.seconds;
  const verdict = ['produce', 'consume'].map((side) => {
    const whole = ratio(large.rows, side);
    const steady = measurable(side) ? rate(`${side} sluice`) / rate(`${side} kcat`) : undefined;
    const steadyText = steady === undefined ? 'n/a' : `${(steady * 100).toFixed(0)}%`;
    const below = Math.min(whole, steady ?? whole) >= 0.5 ? '' : ' (below)';
    return `${side} ${(whole * 100).toFixed(0)}% / ${steadyText}${below}`;
  });
  console.log(
    `\ngoal: ≥ 50% of kcat's msgs/s — throughput, i.e. the ${large.messages} run / the steady state: ` +
      verdict.join(', '),
  );
}

async function measure(messages: number): Promise<Row[]> {
  const dataDir = mkdtempSync(join(tmpdir(), 'sluice-bench-client-'));
  const broker = await startBrokerProcess(dataDir);
  const file = join(dataDir, 'messages.txt');
  const value = 'v'.repeat(VALUE_BYTES);
  writeFileSync(file, (value + '\n').repeat(messages));
  const rows: Row[] = [];
  try {
    const admin = new Admin({ bootstrap: broker.bootstrap });
    await admin.createTopics([
      { name: 'bench-kcat', partitions: 1 },
      { name: 'bench-sluice', partitions: 1 },
    ]);
    await admin.close();

    const kcatProduce = await runKcat(
      [
        '-b',
        broker.bootstrap,
        '-P',
        '-t',
        'bench-kcat',
        '-p',
        '0',
        '-X',
        'acks=all',
        '-X',
        'linger.ms=5',
        '-X',
        'batch.num.messages=10000',
        '-z',
        'none',
        '-l',
        file,
      ],
      300_000,
    );
    rows.push({ what: 'produce kcat', seconds: kcatProduce.seconds });

    const producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 5, batchBytes: 1024 * 1024 });
    await producer.connect();
    const payload = Buffer.from(value);
    let start = performance.now();
    const chunk = 10_000;
    const inFlight: Array<Promise<unknown>> = [];
    for (let sent = 0; sent < messages; sent += chunk) {
      inFlight.push(
        producer.sendBatch(
          'bench-sluice',
          Array.from({ length: Math.min(chunk, messages - sent) }, () => ({ value: payload, partition: 0 })),
        ),
      );
      if (inFlight.length >= 8) await inFlight.shift();
    }
    await Promise.all(inFlight);
    rows.push({ what: 'produce sluice', seconds: (performance.now() - start) / 1000 });
    await producer.close();

    const kcatConsume = await runKcat(
      [
        '-b',
        broker.bootstrap,
        '-C',
        '-t',
        'bench-kcat',
        '-p',
        '0',
        '-o',
        'beginning',
        '-c',
        String(messages),
        '-e',
        '-q',
      ],
      300_000,
    );
    rows.push({ what: 'consume kcat', seconds: kcatConsume.seconds });

    // Prefetch as librdkafka (kcat) does by default: up to 100 000 messages queued (queued.min.messages).
    const consumer = new Consumer({
      bootstrap: broker.bootstrap,
      maxWaitMs: 100,
      partitionMaxBytes: 4 * 1024 * 1024,
      maxBufferedMessages: 100_000,
    });
    consumer.assign([{ topic: 'bench-sluice', partition: 0, offset: 0n }]);
    let received = 0;
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    start = performance.now();
    await consumer.run(async () => {
      if (++received === messages) finished();
    });
    await done;
    rows.push({ what: 'consume sluice', seconds: (performance.now() - start) / 1000 });
    await consumer.close();
  } finally {
    await broker.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`\n${messages} messages of ${VALUE_BYTES} bytes, one partition, acks=all, no compression`);
  const rate = (what: string) => messages / rows.find((r) => r.what === what)!.seconds;
  for (const row of rows)
    console.log(
      `  ${row.what.padEnd(16)} ${row.seconds.toFixed(2).padStart(7)} s  ${Math.round(messages / row.seconds)
        .toLocaleString('en')
        .padStart(10)} msgs/s  ${((messages * VALUE_BYTES) / row.seconds / 1e6).toFixed(1).padStart(6)} MB/s`,
    );
  // At 200 000 messages kcat's whole run takes about 0.1 s, much of it starting a process and
  // connecting, and Sluice's includes the JIT warming up the consume loop: mostly start-up, not
  // throughput (see the steady state after the larger run).
  const note = messages < 1_000_000 ? ' (start-up weighs heavily at this size)' : '';
  console.log(
    `  sluice/kcat: produce ${((rate('produce sluice') / rate('produce kcat')) * 100).toFixed(0)}%, ` +
      `consume ${((rate('consume sluice') / rate('consume kcat')) * 100).toFixed(0)}%${note}`,
  );
  return rows;
}

if (import.meta.url === `file://${process.argv[1]}`) await run();
