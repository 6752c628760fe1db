// Issue 13: with message.max.bytes and socket.request.max.bytes raised above 100 MiB, a 101 MiB batch
// was acknowledged and then cut as bad-length by the next unclean open. Here a real `sluice start`
// acknowledges one (acks=all, under `sync`), is killed with SIGKILL at once — before any recovery
// point checkpoint, so recovery scans the batch — and started again on the same data directory: the
// batch must be kept (no cut) and read back byte-identical.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { beginRequestFrame, finishFrame } from '../../src/protocol/frame.js';
import { ApiKey, apiCodecs } from '../../src/protocol/generated/index.js';
import { decodeRecordBatches } from '../../src/protocol/record-batch/record-decoder.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { RawClient } from '../support/raw-client.js';
import { freePort, killed, mainScript } from '../support/sluice-process.js';

const MiB = 1024 * 1024;
const show = (value: unknown) => JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? String(v) : v));
const overrides = [`message.max.bytes=${200 * MiB}`, `socket.request.max.bytes=${300 * MiB}`];

interface Running {
  child: ChildProcess;
  /** The JSON log lines so far. */
  lines: Array<Record<string, unknown>>;
}

/** `sluice start` at debug level (recovery's per-partition lines), resolved once it listens. */
async function start(dataDir: string, port: number): Promise<Running> {
  const args = ['start', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'debug'];
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('SLUICE_')));
  const child = spawn(process.execPath, [mainScript, ...args, ...overrides.flatMap((o) => ['--override', o])], {
    env,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const running: Running = { child, lines: [] };
  let pending = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('broker did not start in 60 s')), 60_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8');
      let newline;
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = JSON.parse(pending.slice(0, newline)) as Record<string, unknown>;
        pending = pending.slice(newline + 1);
        running.lines.push(line);
        if (String(line['msg']).startsWith('listening on')) {
          clearTimeout(timer);
          resolve();
        }
      }
    });
    child.on('exit', (code) => reject(new Error(`broker exited ${code}: ${JSON.stringify(running.lines)}`)));
  });
  return running;
}

/** One request and its response frame, read into one buffer however large (RawClient concatenates
 *  per chunk, which for a 101 MiB response is quadratic). */
async function roundTrip(port: number, apiKey: number, version: number, body: object): Promise<any> {
  const socket = connect({ port, host: '127.0.0.1' });
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  try {
    const frame = beginRequestFrame(apiKey, version, 1, 'large-batch-test');
    apiCodecs.get(apiKey)!.encodeRequest(version, body, frame.writer);
    for (const chunk of finishFrame(frame)) socket.write(chunk);
    const chunks: Buffer[] = [];
    let received = 0;
    const response = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no response in 120 s')), 120_000);
      socket.on('data', (chunk: Buffer) => {
        chunks.push(chunk);
        received += chunk.length;
        const head = Buffer.concat(chunks.slice(0, 4));
        if (head.length >= 4 && received >= 4 + head.readInt32BE(0)) {
          clearTimeout(timer);
          resolve(Buffer.concat(chunks).subarray(4, 4 + head.readInt32BE(0)));
        }
      });
      socket.on('close', () => reject(new Error('connection closed before the response')));
    });
    return RawClient.decode(apiKey, version, response).body;
  } finally {
    socket.destroy();
  }
}

test(
  'a 101 MiB batch acknowledged under raised limits survives kill -9 and recovery, byte-identical',
  {
    timeout: 300_000,
  },
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'sluice-large-batch-'));
    const port = await freePort();
    let running: Running | null = null;
    try {
      running = await start(dataDir, port);
      const created = await roundTrip(port, ApiKey.CreateTopics, 5, {
        topics: [{ name: 'huge', numPartitions: 1, replicationFactor: 1, assignments: [], configs: [] }],
        timeoutMs: 10_000,
        validateOnly: false,
      });
      assert.equal(created.topics[0].errorCode, 0, show(created.topics[0]));

      const value = Buffer.alloc(101 * MiB);
      for (let at = 0; at < value.length; at += 4) value.writeUInt32BE((at * 2654435761) >>> 0, at);
      const batch = await encodeRecordBatch({ records: [{ key: Buffer.from('large'), value }] });
      assert.ok(batch.length > 101 * MiB && batch.length < 200 * MiB);
      const produced = await roundTrip(port, ApiKey.Produce, 7, {
        transactionalId: null,
        acks: -1,
        timeoutMs: 60_000,
        topicData: [{ name: 'huge', partitionData: [{ index: 0, records: batch }] }],
      });
      const answer = produced.responses[0].partitionResponses[0];
      assert.equal(answer.errorCode, 0, `acknowledged: ${show(answer)}`);
      assert.equal(answer.baseOffset, 0n);
      // Killed right after the acknowledgement: no checkpoint covers the batch, recovery must scan it.
      await killed(running.child);

      running = await start(dataDir, port);
      const opened = running.lines.find(
        (line) => line['msg'] === 'log-opened' && String(line['directory']).endsWith('huge-0'),
      );
      assert.ok(opened, 'the partition was opened');
      assert.ok(Number(opened['scannedSegments']) >= 1, 'recovery scanned the segment holding the batch');
      assert.equal(opened['cuts'], 0, 'nothing was cut');
      assert.equal(
        running.lines.filter((line) => line['msg'] === 'recovery-cut').length,
        0,
        JSON.stringify(running.lines.filter((line) => line['msg'] === 'recovery-cut')),
      );

      // Fetch asks for 1 byte: the first batch comes whole (KIP-74).
      const fetched = await roundTrip(port, ApiKey.Fetch, 11, {
        maxWaitMs: 0,
        minBytes: 0,
        maxBytes: 1,
        isolationLevel: 0,
        topics: [{ topic: 'huge', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 }] }],
      });
      const partition = fetched.responses[0].partitions[0];
      assert.equal(partition.errorCode, 0);
      assert.equal(partition.highWatermark, 1n);
      const records: Buffer = partition.records;
      assert.equal(records.length, batch.length);
      // The broker set the base offset (0) and the leader epoch; every byte from magic on is as sent.
      assert.ok(records.subarray(16).equals(batch.subarray(16)), 'the batch reads back byte-identical');
      const [decoded] = await decodeRecordBatches(records);
      assert.ok(decoded!.records[0]!.value!.equals(value));
    } finally {
      if (running) await killed(running.child);
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);
