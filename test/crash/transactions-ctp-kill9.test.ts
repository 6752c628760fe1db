// Exactly-once consume-transform-produce under a consumer crash: a worker process (ctp-worker.ts)
// is killed with SIGKILL in the middle of a transaction (its output records and consumed offsets
// sent, no commit). A second worker with the same transactional id takes over: its InitProducerId
// fences the dead one and aborts the open transaction, the group hands it the partitions from the
// last committed offsets, and in the end every input record appears exactly once in the output for a
// read_committed reader, with the group's offsets at the end of the input.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import kafkajs from 'kafkajs';
import { readCommitted } from '../support/read-committed.js';
import { startTestBroker } from '../support/test-broker.js';

const workerScript = join(dirname(fileURLToPath(import.meta.url)), 'ctp-worker.js');
const INPUT = 60;

function startWorker(bootstrap: string, crashAfter: number): { child: ChildProcess; inTransaction: Promise<void> } {
  const child = spawn(process.execPath, [workerScript, bootstrap, String(crashAfter)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const inTransaction = new Promise<void>((resolve) => {
    child.stdout!.on('data', (data: Buffer) => {
      if (data.toString().includes('in-transaction')) resolve();
    });
  });
  return { child, inTransaction };
}

function killed(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

async function waitFor(what: string, condition: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

test(
  'kill -9 a consume-transform-produce worker mid-transaction: the output is exactly once',
  { timeout: 120_000 },
  async () => {
    const server = await startTestBroker({
      properties: {
        'group.initial.rebalance.delay.ms': '100',
        'group.min.session.timeout.ms': '1000',
        'offsets.topic.num.partitions': '2',
        'transaction.state.log.num.partitions': '2',
      },
    });
    const workers: ChildProcess[] = [];
    try {
      const kafka = new kafkajs.Kafka({
        brokers: [server.bootstrap],
        clientId: 'ctp-k9-test',
        logLevel: kafkajs.logLevel.NOTHING,
      });
      const admin = kafka.admin();
      await admin.connect();
      await admin.createTopics({
        topics: [
          { topic: 'ctp-k9-in', numPartitions: 1 },
          { topic: 'ctp-k9-out', numPartitions: 1 },
        ],
      });
      const producer = kafka.producer();
      await producer.connect();
      await producer.send({
        topic: 'ctp-k9-in',
        messages: Array.from({ length: INPUT }, (_, i) => ({ value: `m${i}` })),
      });
      await producer.disconnect();

      const first = startWorker(server.bootstrap, 3);
      workers.push(first.child);
      await first.inTransaction;
      await killed(first.child);
      const afterCrash = await readCommitted(server.port, 'ctp-k9-out');
      assert.equal(
        afterCrash.visible.length,
        15,
        'three committed transactions of five records; the open one is hidden',
      );
      assert.ok(afterCrash.lastStableOffset < afterCrash.highWatermark, 'the dead worker left its transaction open');

      const second = startWorker(server.bootstrap, -1);
      workers.push(second.child);
      await waitFor(
        'all input transformed',
        async () => (await readCommitted(server.port, 'ctp-k9-out')).visible.length >= INPUT,
      );
      await new Promise((r) => setTimeout(r, 1000)); // anything extra would show up now
      const output = (await readCommitted(server.port, 'ctp-k9-out')).visible;
      assert.equal(output.length, INPUT, 'no record twice');
      assert.deepEqual([...output].sort(), Array.from({ length: INPUT }, (_, i) => `out-m${i}`).sort());
      const offsets = await admin.fetchOffsets({ groupId: 'ctp-k9', topics: ['ctp-k9-in'] });
      assert.equal(offsets[0]!.partitions[0]!.offset, String(INPUT));
      await admin.disconnect();
    } finally {
      for (const worker of workers) await killed(worker);
      await server.close();
    }
  },
);
