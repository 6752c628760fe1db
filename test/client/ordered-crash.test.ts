// The consumer guarantee, end to end: 100 000 messages over 1 000 keys, consumed with
// concurrency 16 and random handler delays by a separate process that is killed with SIGKILL
// midway and started again. Checks: per-key order within each run, parallelism really used,
// nothing skipped, and re-delivery only of messages at or after the last committed offset.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startTestBroker } from '../support/test-broker.js';
import { Producer } from '../../src/client/producer.js';
import { Admin } from '../../src/client/admin.js';
import { stringSerde } from '../../src/client/serializers.js';

const MESSAGES = 100_000;
const KEYS = 1000;
const PARTITIONS = 8;
const child = join(dirname(fileURLToPath(import.meta.url)), 'support', 'ordered-consumer-child.js');

interface Done {
  partition: number;
  offset: number;
  key: string;
  seq: number;
}

function readLog(path: string): Array<{ done: Done[]; commits: Map<number, number>; peak: number }> {
  const runs: Array<{ done: Done[]; commits: Map<number, number>; peak: number }> = [
    { done: [], commits: new Map(), peak: 0 },
  ];
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const parts = line.split(' ');
    const run = runs[runs.length - 1]!;
    if (parts[0] === 'run') runs.push({ done: [], commits: new Map(), peak: 0 });
    else if (parts[0] === 'd' && parts.length === 5)
      run.done.push({ partition: Number(parts[1]), offset: Number(parts[2]), key: parts[3]!, seq: Number(parts[4]) });
    else if (parts[0] === 'c' && parts.length === 3)
      run.commits.set(Number(parts[1]), Math.max(run.commits.get(Number(parts[1])) ?? 0, Number(parts[2])));
    else if (parts[0] === 'p' && parts.length === 2) run.peak = Math.max(run.peak, Number(parts[1]));
  }
  return runs;
}

function start(bootstrap: string, logPath: string): ChildProcess {
  return spawn(process.execPath, [child, bootstrap, 'big', 'crash-group', logPath, String(MESSAGES)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
}

async function until(condition: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test(
  'per-key order with concurrency 16 over 100 000 messages; kill -9 re-delivers, never skips',
  { timeout: 180_000 },
  async () => {
    const broker = await startTestBroker({
      properties: { 'group.initial.rebalance.delay.ms': '0', 'group.min.session.timeout.ms': '500' },
    });
    const dir = mkdtempSync(join(tmpdir(), 'sluice-ordered-crash-'));
    const logPath = join(dir, 'log');
    appendFileSync(logPath, '');
    let running: ChildProcess | undefined;
    try {
      const admin = new Admin({ bootstrap: broker.bootstrap });
      await admin.createTopics([{ name: 'big', partitions: PARTITIONS }]);
      await admin.close();
      const producer = new Producer<string, string>({
        bootstrap: broker.bootstrap,
        lingerMs: 5,
        batchBytes: 64 * 1024,
        keySerializer: stringSerde.serialize,
        valueSerializer: stringSerde.serialize,
      });
      const sends: Array<Promise<unknown>> = [];
      for (let i = 0; i < MESSAGES; i++) {
        sends.push(producer.send('big', { key: `key-${i % KEYS}`, value: String(Math.floor(i / KEYS)) }));
        if (i % 5000 === 4999) await Promise.all(sends.splice(0));
      }
      await Promise.all(sends);
      await producer.close();

      // Run 1: killed with SIGKILL after 40 000 messages.
      running = start(broker.bootstrap, logPath);
      await until(() => readLog(logPath)[0]!.done.length >= 40_000, 90_000);
      running.kill('SIGKILL');
      await new Promise((resolve) => running!.once('exit', resolve));
      appendFileSync(logPath, 'run 2\n');

      // Run 2: the same group goes on from the committed offsets, until everything is done.
      running = start(broker.bootstrap, logPath);
      await until(() => {
        const runs = readLog(logPath);
        return (
          new Set([...runs[0]!.done, ...(runs[1]?.done ?? [])].map((d) => `${d.partition}/${d.offset}`)).size >=
          MESSAGES
        );
      }, 120_000);
      running.kill('SIGTERM');
      await new Promise((resolve) => running!.once('exit', resolve));
      running = undefined;

      const [first, second] = readLog(logPath) as [ReturnType<typeof readLog>[0], ReturnType<typeof readLog>[0]];
      // Per-key order within each run: seqs of a key increase (a re-delivered tail may repeat across runs).
      for (const run of [first, second]) {
        const last = new Map<string, number>();
        for (const d of run.done) {
          const previous = last.get(d.key);
          assert.ok(previous === undefined || d.seq > previous, `key ${d.key}: ${d.seq} after ${previous}`);
          last.set(d.key, d.seq);
        }
      }
      // Parallelism was used.
      assert.ok(first.peak >= 8 && second.peak >= 8, `peak concurrency ${first.peak} / ${second.peak}`);
      // Nothing skipped.
      const all = new Set([...first.done, ...second.done].map((d) => `${d.partition}/${d.offset}`));
      assert.equal(all.size, MESSAGES);
      // Re-delivered only what was at or after the last commit of run 1.
      const doneFirst = new Set(first.done.map((d) => `${d.partition}/${d.offset}`));
      const redelivered = second.done.filter((d) => doneFirst.has(`${d.partition}/${d.offset}`));
      for (const d of redelivered)
        assert.ok(
          d.offset >= (first.commits.get(d.partition) ?? 0),
          `partition ${d.partition} offset ${d.offset} re-delivered below commit ${first.commits.get(d.partition)}`,
        );
      // Everything below run 1's last commit was finished in run 1.
      for (const [partition, committed] of first.commits) {
        const finished = new Set(first.done.filter((d) => d.partition === partition).map((d) => d.offset));
        for (let offset = 0; offset < committed; offset++)
          assert.ok(finished.has(offset), `partition ${partition} offset ${offset} committed but not finished`);
      }
      process.stdout.write(
        `# run 1: ${first.done.length} done, peak ${first.peak}; ` +
          `run 2: ${second.done.length} done, peak ${second.peak}; re-delivered ${redelivered.length}\n`,
      );
    } finally {
      running?.kill('SIGKILL');
      await broker.close();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);
