// The size-limit rules of broker/size-limits.ts: each rule is broken once and seen enforced (refused,
// warned about, or — for the by-design rules — the mechanism shown), the last test checks that every
// rule was, and the extreme configurations the registry accepts break no refusal rule.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { MemoryLogger } from '../../src/broker/logger.js';
import { checkSizeLimits, sizeLimitRules, sizeLimitsFor, type SizeLimits } from '../../src/broker/size-limits.js';
import { ErrorCode } from '../../src/protocol/generated/index.js';
import { encodeRecordBatch } from '../../src/protocol/record-batch/record-encoder.js';
import { startBroker } from '../../src/server/start-broker.js';
import { startTestBroker } from '../support/test-broker.js';

const MiB = 1024 * 1024;
const enforced = new Set<string>();
const defaults = sizeLimitsFor({});

function refusedBy(id: string, limits: SizeLimits): string {
  const report = checkSizeLimits(limits);
  const rule = sizeLimitRules.find((r) => r.id === id)!;
  assert.equal(rule.consequence, 'refuse');
  const message = rule.problem(limits);
  assert.ok(message !== null, `${id} is broken by these limits`);
  assert.ok(report.refused.includes(message), `${id} refuses`);
  enforced.add(id);
  return message;
}

test('the defaults break no rule', () => {
  assert.deepEqual(checkSizeLimits(defaults), { refused: [], warnings: [] });
});

test('refused: produce accepting a batch recovery would not keep (issue 13, with a 100 MiB bound)', () => {
  const message = refusedBy('recovery-keeps-what-produce-accepts', {
    ...defaults,
    maxMessageBytes: { name: 'message.max.bytes', value: 200 * MiB },
    recoveryBatchBytesMax: 100 * MiB,
  });
  assert.match(message, /^message\.max\.bytes \(209715200\) is above the largest batch recovery keeps \(104857600\)/);
});

test('refused: a recovery bound below what any configuration accepts, even with today’s limit small', () => {
  const message = refusedBy('recovery-keeps-any-batch-ever-accepted', {
    ...defaults,
    recoveryBatchBytesMax: 100 * MiB,
  });
  assert.match(message, /accepts up to 2147483647, above the largest batch recovery keeps \(104857600\)/);
});

test('refused: a batch or a segment past the int32 segment positions', () => {
  refusedBy('batch-fits-segment-positions', {
    ...defaults,
    maxMessageBytes: { name: 'max.message.bytes', value: 2 ** 31 },
    recoveryBatchBytesMax: 2 ** 32,
  });
  const message = refusedBy('segment-fits-segment-positions', {
    ...defaults,
    segmentBytes: { name: 'segment.bytes', value: 2 ** 31 },
  });
  assert.match(message, /^segment\.bytes \(2147483648\) is above the int32 segment position limit/);
});

test('refused at start, in one line: a request budget smaller than the largest request', async () => {
  const message = refusedBy('request-queue-holds-largest-request', {
    ...defaults,
    queuedRequestBytesMax: MiB,
  });
  assert.match(message, /^queued\.max\.request\.bytes \(1048576\) must be at least socket\.request\.max\.bytes/);
  await assert.rejects(
    startBroker({ properties: { 'queued.max.request.bytes': String(MiB) } }),
    (error: Error) => error.name === 'ConfigError' && error.message === message,
  );
});

test('the extreme values the registry accepts are safe: no refusal with every limit at its ceiling', () => {
  const extreme = sizeLimitsFor({
    'message.max.bytes': '2147483647',
    'log.segment.bytes': '2147483647',
    'socket.request.max.bytes': '2147483647',
    'queued.max.request.bytes': '2147483647',
  });
  assert.deepEqual(checkSizeLimits(extreme).refused, []);
});

test('warned, at start and on a topic change: a max.message.bytes no request can carry', async () => {
  const limits = sizeLimitsFor({ 'message.max.bytes': String(200 * MiB) });
  const report = checkSizeLimits(limits);
  assert.deepEqual(report.refused, []);
  assert.deepEqual(
    report.warnings.map((w) => w.rule),
    ['request-carries-largest-batch'],
  );

  const logger = new MemoryLogger();
  const started = await startBroker({ properties: { 'message.max.bytes': String(200 * MiB) }, logger });
  try {
    const warning = logger.lines.find((line) => line.fields['rule'] === 'request-carries-largest-batch');
    assert.ok(warning && warning.level === 'warn', 'start-up warns');
    assert.match(warning.message, /^message\.max\.bytes \(209715200\) does not fit in socket\.request\.max\.bytes/);
  } finally {
    await started.close();
  }

  const server = await startTestBroker();
  try {
    const created = await server.broker.createTopic('big', 1, { 'max.message.bytes': String(200 * MiB) });
    assert.equal(created.errorCode, ErrorCode.NONE, 'a warning, not a refusal');
    const altered = await server.broker.alterTopicConfigs('big', { 'max.message.bytes': String(150 * MiB) }, false);
    assert.equal(altered.errorCode, ErrorCode.NONE);
    const warnings = server.logger.lines.filter((line) => line.fields['rule'] === 'request-carries-largest-batch');
    assert.deepEqual(
      warnings.map((w) => [w.fields['topic'], w.message.split(' ')[1]]),
      [
        ['big', '(209715200)'],
        ['big', '(157286400)'],
      ],
    );
    // A topic that overrides nothing repeats no start-up warning.
    await server.broker.createTopic('plain', 1, {});
    assert.equal(
      server.logger.lines.filter((line) => line.fields['topic'] === 'plain' && line.level === 'warn').length,
      0,
    );
  } finally {
    await server.close();
  }
  enforced.add('request-carries-largest-batch');
});

test('the 101 MiB configuration of issue 13 starts without a warning or a refusal', async () => {
  const logger = new MemoryLogger();
  const started = await startBroker({
    properties: { 'message.max.bytes': String(200 * MiB), 'socket.request.max.bytes': String(300 * MiB) },
    logger,
  });
  await started.close();
  assert.deepEqual(
    logger.lines.filter((line) => line.level === 'warn'),
    [],
  );
});

test('by design: Fetch serves a batch larger than fetch.max.bytes and replica.fetch.max.bytes whole', async () => {
  const server = await startTestBroker({
    properties: { 'fetch.max.bytes': '1024', 'message.max.bytes': String(4 * MiB) },
  });
  try {
    await server.broker.createTopic('wide', 1, {});
    const batch = await encodeRecordBatch({ records: [{ value: Buffer.alloc(2 * MiB, 7) }] });
    assert.ok(batch.length > 2 * MiB && batch.length > sizeLimitsFor({}).replicaFetchMaxBytes);
    assert.equal((await server.broker.produce('wide', 0, batch)).errorCode, ErrorCode.NONE);
    // A consumer asking for 1 byte, and a follower's budget (replica.fetch.max.bytes, 1 MiB): both get
    // the whole batch, so nothing accepted is beyond reach.
    for (const maxBytes of [1, sizeLimitsFor({}).replicaFetchMaxBytes]) {
      const [result] = await server.broker.fetch(
        [{ topic: 'wide', partition: 0, fetchOffset: 0, partitionMaxBytes: maxBytes }],
        {
          maxWaitMs: 0,
          minBytes: 0,
          maxBytes,
        },
      );
      assert.equal(result!.errorCode, ErrorCode.NONE);
      assert.equal(result!.records.length, batch.length, `maxBytes ${maxBytes}`);
    }
  } finally {
    await server.close();
  }
  enforced.add('fetch-serves-any-batch');
  enforced.add('replica-fetch-serves-any-batch');
});

after(() => {
  // Runs after every test above: each rule of the table was broken (or its mechanism shown) once.
  assert.deepEqual([...enforced].sort(), sizeLimitRules.map((rule) => rule.id).sort(), 'every rule has a test');
});
