// A real `sluice start` process is killed with SIGKILL while a producer streams acks=all batches at
// it, then started again on the same data directory. Every acknowledged message must be there,
// exactly once and in order; an unacknowledged one may or may not be (at most once here, since
// the producer stops at the first error and never retries).
//   SLUICE_BROKER_CRASH_CYCLES=N   cycles (default 8)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ApiKey } from '../../src/protocol/generated/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { RawClient } from '../support/raw-client.js';
import { readPartition } from '../support/read-partition.js';
import { Random, seedFromEnvironment } from '../support/random.js';

const mainScript = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
const cycles = Number(process.env.SLUICE_BROKER_CRASH_CYCLES ?? 8);

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startBroker(dataDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [mainScript, 'start', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`broker did not start: ${out}`)), 20_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      if (out.includes('listening on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`broker exited ${code}: ${out}`)));
  });
  child.stdout!.resume();
  return child;
}

test(
  `kill -9 the broker during acks=all produce, ${cycles} cycles: every acknowledged message survives once, in order`,
  { timeout: 180_000 },
  async () => {
    const seed = seedFromEnvironment();
    const random = new Random(seed);
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-broker-crash-'));
    const port = await freePort();
    const acknowledged: string[] = [];
    let sequence = 0;
    let killedInFlight = 0;
    try {
      for (let cycle = 0; cycle < cycles; cycle++) {
        const broker = await startBroker(dataDir, port);
        const client = await RawClient.connect(port);
        client.request(ApiKey.Metadata, 9, 0, { topics: [{ name: 'crash' }], allowAutoTopicCreation: true });
        await client.waitForFrames(1);
        // Stream batches with up to 5 in flight; kill the broker after a random delay.
        const killAfterMs = random.int(30, 400);
        const killer = setTimeout(() => broker.kill('SIGKILL'), killAfterMs);
        const inFlight = new Map<number, string[]>();
        let correlation = 1;
        let answered = 0;
        let stopped = false;
        while (!stopped && !client.closed) {
          while (inFlight.size < 5) {
            const values = Array.from({ length: random.int(1, 20) }, () => `m${sequence++}`);
            const batch = await encodeRecordBatch({ records: values.map((v) => ({ value: Buffer.from(v) })) });
            inFlight.set(correlation, values);
            client.request(ApiKey.Produce, 7, correlation++, {
              acks: -1,
              timeoutMs: 10_000,
              topicData: [{ name: 'crash', partitionData: [{ index: 0, records: batch }] }],
            });
          }
          const frames = await client.waitForFrames(answered + 1 + 1, 2000);
          while (answered + 1 < frames.length) {
            const { correlationId, body } = RawClient.decode(ApiKey.Produce, 7, frames[answered + 1]!);
            answered++;
            const partition = body.responses[0].partitionResponses[0];
            if (partition.errorCode !== 0) {
              stopped = true;
              break;
            }
            acknowledged.push(...inFlight.get(correlationId)!);
            inFlight.delete(correlationId);
          }
          if (frames.length < answered + 2 && client.closed) break;
        }
        clearTimeout(killer);
        broker.kill('SIGKILL');
        await new Promise((resolve) =>
          broker.exitCode !== null || broker.signalCode !== null ? resolve(null) : broker.once('exit', resolve),
        );
        client.close();

        // Restart and check what is served.
        const again = await startBroker(dataDir, port);
        try {
          const stored = (await readPartition(port, 'crash', 0)).map((r) => r.value!);
          const positions = new Map<string, number>();
          stored.forEach((value, index) => {
            assert.ok(!positions.has(value), `seed ${seed} cycle ${cycle}: ${value} stored twice`);
            positions.set(value, index);
          });
          let previous = -1;
          for (const value of acknowledged) {
            const at = positions.get(value);
            assert.ok(
              at !== undefined,
              `seed ${seed} cycle ${cycle}: acknowledged ${value} is missing (${acknowledged.length} acknowledged, ` +
                `${stored.length} stored)`,
            );
            assert.ok(at > previous, `seed ${seed} cycle ${cycle}: ${value} out of order`);
            previous = at;
          }
          // What is stored now (acknowledged or not) is the history the next cycles must keep.
          acknowledged.length = 0;
          acknowledged.push(...stored);
          killedInFlight += inFlight.size > 0 ? 1 : 0;
        } finally {
          again.kill('SIGTERM');
          await new Promise((resolve) => again.once('exit', resolve));
        }
      }
      assert.ok(acknowledged.length > 0, 'something was acknowledged');
      assert.ok(killedInFlight > 0, 'at least one kill hit requests in flight');
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
