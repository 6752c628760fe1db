// HalfMessageProducer against a real in-process broker with short check delays: a committed half
// message appears in its topic once (key, value, headers, partition as sent), a rolled-back one never;
// sendInTransaction; the broker's check-back answered by another instance of the producer group after
// the sender closed undecided; a checker answering rollback, throwing, or unknown until abandoned;
// option and argument validation.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker, type TestBroker } from '../support/test-broker.js';
import { Admin } from '../../src/client/admin.js';
import { Consumer, type ConsumedMessage } from '../../src/client/consumer.js';
import {
  HalfMessageProducer,
  HALF_ABANDONED_TOPIC,
  type HalfMessageCheck,
  type HalfMessageChecker,
} from '../../src/client/half-producer.js';
import { keyPartition } from '../../src/client/partitioners.js';
import { stringSerde } from '../../src/client/serializers.js';
import { ClientOptionError, KafkaError } from '../../src/client/errors.js';

// Check 1 after 300 ms, then waits of 300, 500, 500 ms: an undecided message is abandoned ≈ 1.6 s after it was stored.
const properties = {
  'transaction.check.delay.ms': '300',
  'sluice.transaction.check.backoff.max.ms': '500',
  'transaction.check.max': '3',
  'sluice.half.log.num.partitions': '2',
  'group.initial.rebalance.delay.ms': '50',
  'group.min.session.timeout.ms': '1000',
  'offsets.topic.num.partitions': '2',
};

let server: TestBroker;
let admin: Admin;

before(async () => {
  server = await startTestBroker({ properties });
  admin = new Admin({ bootstrap: server.bootstrap });
});

after(async () => {
  await admin.close();
  await server.close();
});

function halfProducer(
  producerGroup: string,
  checker: HalfMessageChecker<string, string>,
  warnings: string[] = [],
): HalfMessageProducer<string, string> {
  return new HalfMessageProducer<string, string>({
    bootstrap: server.bootstrap,
    producerGroup,
    checker,
    keySerializer: stringSerde.serialize,
    valueSerializer: stringSerde.serialize,
    keyDeserializer: stringSerde.deserialize,
    valueDeserializer: stringSerde.deserialize,
    retryBackoffMs: 20,
    checkConsumer: { sessionTimeoutMs: 2000, heartbeatIntervalMs: 200, maxWaitMs: 50 },
    logger: { warn: (message) => void warnings.push(message) },
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: string, condition: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Every record of `topic` from the beginning, read_uncommitted (so nothing is hidden), as it arrives. */
async function watch(
  topic: string,
): Promise<{ messages: Array<ConsumedMessage<string, string>>; close(): Promise<void> }> {
  const [info] = await admin.describeTopics([topic]);
  const consumer = new Consumer<string, string>({
    bootstrap: server.bootstrap,
    isolationLevel: 'read_uncommitted',
    maxWaitMs: 50,
    keyDeserializer: stringSerde.deserialize,
    valueDeserializer: stringSerde.deserialize,
  });
  const messages: Array<ConsumedMessage<string, string>> = [];
  consumer.assign(info!.partitions.map((p) => ({ topic, partition: p.partition, offset: 'earliest' as const })));
  await consumer.run(async (message) => void messages.push(message));
  return { messages, close: () => consumer.close() };
}

function headerText(message: ConsumedMessage<string, string>): Record<string, string> {
  return Object.fromEntries(message.headerList.map((h) => [h.key, h.value?.toString('utf8') ?? '']));
}

/** Long enough for the broker to have checked and abandoned an undecided message (≈ 1.6 s) and then some. */
const SETTLE_MS = 3000;

test(
  'commit: the message appears in its topic once, on the chosen partition, with key, value and headers',
  { timeout: 60_000 },
  async () => {
    await admin.createTopics([{ name: 'half-commit', partitions: 3 }]);
    const checked: string[] = [];
    const producer = halfProducer('half-commit-service', (m) => (checked.push(m.halfId), 'rollback'));
    const seen = await watch('half-commit');
    try {
      await producer.connect();
      assert.ok(
        (await admin.listTopics({ includeInternal: true })).includes('__sluice_check.half-commit-service'),
        'connect() creates the check topic of the group',
      );
      const half = await producer.sendHalf('half-commit', {
        key: 'order-1',
        value: '{"cents":100}',
        headers: { source: 'web' },
        timestamp: 1_700_000_000_000,
      });
      assert.match(half.id, /^\d+:\d+$/);
      assert.equal(half.topic, 'half-commit');
      assert.equal(
        half.partition,
        keyPartition(Buffer.from('order-1'), 3),
        'the partition the producer would choose for the key',
      );
      await sleep(100);
      assert.equal(seen.messages.length, 0, 'invisible before the decision');
      await half.commit();
      await half.commit(); // the same decision again is harmless
      await assert.rejects(half.rollback(), ClientOptionError, 'a handle cannot change its decision');
      await waitFor('the committed message', () => seen.messages.length >= 1);
      await sleep(SETTLE_MS);
      assert.equal(seen.messages.length, 1, 'exactly once');
      const [message] = seen.messages;
      assert.equal(message!.partition, half.partition);
      assert.equal(message!.key, 'order-1');
      assert.equal(message!.value, '{"cents":100}');
      assert.equal(message!.timestamp, 1_700_000_000_000);
      assert.deepEqual(headerText(message!), { source: 'web', 'sluice.half.id': half.id });
      assert.deepEqual(checked, [], 'a decided message is not checked');

      // Explicit partition and unkeyed messages.
      const explicit = await producer.sendHalf('half-commit', { key: 'order-1', value: 'p2', partition: 2 });
      assert.equal(explicit.partition, 2);
      const unkeyed = await producer.sendHalf('half-commit', { value: 'no key' });
      await explicit.commit();
      await unkeyed.commit();
      await waitFor('two more messages', () => seen.messages.length >= 3);
      assert.equal(seen.messages.find((m) => m.value === 'p2')?.partition, 2);
      assert.equal(seen.messages.find((m) => m.value === 'no key')?.partition, unkeyed.partition);
      assert.equal(seen.messages.find((m) => m.value === 'no key')?.key, null);
    } finally {
      await seen.close();
      await producer.close();
    }
  },
);

test('rollback: the message never appears and is not checked', { timeout: 60_000 }, async () => {
  await admin.createTopics([{ name: 'half-rollback', partitions: 1 }]);
  const checked: string[] = [];
  const producer = halfProducer('half-rollback-service', (m) => (checked.push(m.halfId), 'commit'));
  const seen = await watch('half-rollback');
  try {
    await producer.connect();
    const dropped = await producer.sendHalf('half-rollback', { key: 'order-2', value: 'dropped' });
    await dropped.rollback();
    const kept = await producer.sendHalf('half-rollback', { key: 'order-3', value: 'kept' });
    await kept.commit();
    await waitFor('the committed message', () => seen.messages.length >= 1);
    await sleep(SETTLE_MS);
    assert.deepEqual(
      seen.messages.map((m) => m.value),
      ['kept'],
    );
    assert.deepEqual(checked, [], 'rolled back and committed messages are not checked');
  } finally {
    await seen.close();
    await producer.close();
  }
});

test(
  'sendInTransaction: commit, rollback, unknown and a throwing local transaction (left to the check-back)',
  { timeout: 60_000 },
  async () => {
    await admin.createTopics([{ name: 'half-local', partitions: 2 }]);
    const database = new Set<string>();
    const checks: Array<HalfMessageCheck<string, string>> = [];
    const producer = halfProducer('half-local-service', (m) => {
      checks.push(m);
      return database.has(m.key!) ? 'commit' : 'rollback';
    });
    const seen = await watch('half-local');
    try {
      await producer.connect();
      const committed = await producer.sendInTransaction(
        'half-local',
        { key: 'a', value: 'committed' },
        async (half) => {
          assert.match(half.id, /^\d+:\d+$/);
          database.add('a');
          return 'commit' as const; // `as const`: TypeScript 7.0 widens a lone literal returned by an async arrow
        },
      );
      assert.equal(committed.decision, 'commit');
      const rolledBack = await producer.sendInTransaction(
        'half-local',
        { key: 'b', value: 'rolled back' },
        () => 'rollback',
      );
      assert.equal(rolledBack.decision, 'rollback');
      // The row commits but the service cannot tell (a timeout): the check-back finds the row.
      const unknown = await producer.sendInTransaction(
        'half-local',
        { key: 'c', value: 'unknown then checked' },
        () => {
          database.add('c');
          return 'unknown';
        },
      );
      assert.equal(unknown.decision, 'unknown');
      // The local transaction fails after the row was written: no decision, the error is rethrown,
      // the check-back commits.
      const boom = new Error('connection to the database lost after COMMIT');
      let thrownId = '';
      await assert.rejects(
        producer.sendInTransaction('half-local', { key: 'd', value: 'thrown then checked' }, (half) => {
          thrownId = half.id;
          database.add('d');
          throw boom;
        }),
        (error) => error === boom,
      );
      // The local transaction fails before writing anything: the check-back rolls back.
      await assert.rejects(
        producer.sendInTransaction('half-local', { key: 'e', value: 'never' }, async () =>
          Promise.reject(new Error('constraint violated')),
        ),
        /constraint violated/,
      );
      await assert.rejects(
        producer.sendInTransaction('half-local', { key: 'f', value: 'bad' }, () => 'yes' as never),
        ClientOptionError,
        'a decision that is not one of the three',
      );

      await waitFor('the checked messages', () => seen.messages.length >= 3);
      await sleep(SETTLE_MS);
      assert.deepEqual(seen.messages.map((m) => m.value).sort(), [
        'committed',
        'thrown then checked',
        'unknown then checked',
      ]);
      assert.deepEqual(
        [...new Set(checks.map((c) => c.key))].sort(),
        ['c', 'd', 'e', 'f'],
        'only undecided messages are checked',
      );
      const check = checks.find((c) => c.key === 'd')!;
      assert.equal(check.halfId, thrownId);
      assert.equal(check.topic, 'half-local');
      assert.equal(check.partition, keyPartition(Buffer.from('d'), 2));
      assert.equal(check.value, 'thrown then checked');
      assert.equal(check.attempt, 1);
    } finally {
      await seen.close();
      await producer.close();
    }
  },
);

test(
  'check-back: a second instance of the group commits what the first sent and closed without deciding',
  { timeout: 60_000 },
  async () => {
    await admin.createTopics([{ name: 'half-orders', partitions: 2 }]);
    const database = new Map<string, string>();
    const firstChecks: string[] = [];
    const first = halfProducer('order-service', (m) => (firstChecks.push(m.halfId), 'rollback'));
    const seen = await watch('half-orders');
    let second: HalfMessageProducer<string, string> | undefined;
    try {
      await first.connect();
      const half = await first.sendHalf('half-orders', {
        key: 'order-7',
        value: '{"total":7}',
        headers: { trace: 't-7' },
        timestamp: 1_700_000_000_007,
      });
      database.set('order-7', 'created'); // the local transaction committed, then the instance went away
      await first.close();

      const checks: Array<HalfMessageCheck<string, string>> = [];
      second = halfProducer('order-service', (m) => {
        checks.push(m);
        return database.has(m.key!) ? 'commit' : 'rollback';
      });
      await second.connect();
      await waitFor('the check-back commit', () => seen.messages.length >= 1);
      await sleep(SETTLE_MS);
      assert.equal(seen.messages.length, 1, 'exactly once');
      assert.equal(seen.messages[0]!.value, '{"total":7}');
      assert.equal(seen.messages[0]!.partition, half.partition);
      assert.deepEqual(headerText(seen.messages[0]!), { trace: 't-7', 'sluice.half.id': half.id });
      assert.deepEqual(firstChecks, [], 'the closed instance was not asked');
      assert.ok(checks.length >= 1);
      const check = checks[0]!;
      assert.deepEqual(
        {
          topic: check.topic,
          partition: check.partition,
          key: check.key,
          value: check.value,
          headers: Object.fromEntries(Object.entries(check.headers).map(([k, v]) => [k, v?.toString()])),
          timestamp: check.timestamp,
          halfId: check.halfId,
        },
        {
          topic: 'half-orders',
          partition: half.partition,
          key: 'order-7',
          value: '{"total":7}',
          headers: { trace: 't-7' },
          timestamp: 1_700_000_000_007,
          halfId: half.id,
        },
      );
      assert.ok(check.attempt >= 1);
    } finally {
      await seen.close();
      await first.close();
      await second?.close();
    }
  },
);

test(
  'check-back with two live instances: each check request reaches one of them, and the message appears once',
  { timeout: 60_000 },
  async () => {
    await admin.createTopics([{ name: 'half-two-live', partitions: 1 }]);
    // Both instances answer 'unknown' to the first check they get and 'commit' after: a check
    // delivered to both would show as two answers to the same attempt.
    const answers: Array<{ instance: string; halfId: string; attempt: number }> = [];
    const checker = (instance: string) => (m: HalfMessageCheck<string, string>) => {
      answers.push({ instance, halfId: m.halfId, attempt: m.attempt });
      return m.attempt >= 2 ? 'commit' : 'unknown';
    };
    const a = halfProducer('two-live', checker('a'));
    const b = halfProducer('two-live', checker('b'));
    const sender = halfProducer('two-live', checker('sender'));
    const seen = await watch('half-two-live');
    try {
      await a.connect();
      await b.connect();
      await sender.connect();
      const half = await sender.sendHalf('half-two-live', { key: 'k', value: 'v' });
      await sender.close(); // the sender goes away undecided; a and b stay
      await waitFor('the check-back commit', () => seen.messages.length >= 1);
      await sleep(500);
      assert.equal(seen.messages.length, 1, 'exactly once');
      const forHalf = answers.filter((answer) => answer.halfId === half.id);
      const attempts = forHalf.map((answer) => answer.attempt);
      assert.deepEqual(
        attempts,
        [...new Set(attempts)],
        `each check attempt answered by one instance only: ${JSON.stringify(forHalf)}`,
      );
      assert.ok(
        attempts.includes(1) && attempts.includes(2),
        `checks 1 and 2 were answered: ${JSON.stringify(forHalf)}`,
      );
      assert.ok(
        forHalf.every((answer) => answer.instance !== 'sender'),
        'the closed sender was not asked',
      );
    } finally {
      await seen.close();
      await sender.close();
      await a.close();
      await b.close();
    }
  },
);

test(
  'check-back: a checker answering rollback drops the message; one that throws counts as unknown and is logged',
  { timeout: 60_000 },
  async () => {
    await admin.createTopics([{ name: 'half-checked', partitions: 1 }]);
    const warnings: string[] = [];
    const attempts = new Map<string, number[]>();
    const producer = halfProducer(
      'half-checked-service',
      (m) => {
        attempts.set(m.key!, [...(attempts.get(m.key!) ?? []), m.attempt]);
        if (m.key === 'flaky' && m.attempt === 1) throw new Error('database unavailable');
        return m.key === 'flaky' ? 'commit' : 'rollback';
      },
      warnings,
    );
    const seen = await watch('half-checked');
    try {
      await producer.connect();
      await producer.sendHalf('half-checked', { key: 'gone', value: 'rolled back by the checker' });
      const flaky = await producer.sendHalf('half-checked', { key: 'flaky', value: 'committed on the second check' });
      await waitFor('the second check of the flaky message', () => seen.messages.length >= 1);
      await sleep(SETTLE_MS);
      assert.deepEqual(
        seen.messages.map((m) => m.value),
        ['committed on the second check'],
      );
      assert.deepEqual(attempts.get('gone'), [1], 'a rollback answer ends the checks');
      assert.deepEqual(attempts.get('flaky'), [1, 2]);
      assert.ok(
        warnings.some((w) => w.includes('checker failed') && w.includes(flaky.id)),
        `the failure is logged: ${JSON.stringify(warnings)}`,
      );
    } finally {
      await seen.close();
      await producer.close();
    }
  },
);

test(
  'check-back: a message the checker never decides is abandoned after transaction.check.max checks',
  { timeout: 60_000 },
  async () => {
    await admin.createTopics([{ name: 'half-unknown', partitions: 1 }]);
    const attempts: number[] = [];
    const producer = halfProducer('half-unknown-service', (m) => (attempts.push(m.attempt), 'unknown'));
    const seen = await watch('half-unknown');
    const abandoned = await watch(HALF_ABANDONED_TOPIC);
    try {
      await producer.connect();
      const half = await producer.sendHalf('half-unknown', {
        key: 'undecided',
        value: 'never decided',
        headers: { source: 'test' },
      });
      await waitFor('the abandoned record', () =>
        abandoned.messages.some((m) => headerText(m)['sluice.half.id'] === half.id),
      );
      const record = abandoned.messages.find((m) => headerText(m)['sluice.half.id'] === half.id)!;
      assert.equal(record.value, 'never decided');
      assert.equal(headerText(record)['sluice.half.checks'], '3');
      assert.equal(headerText(record).source, 'test');
      assert.deepEqual(attempts, [1, 2, 3]);
      // A decision after abandonment changes nothing.
      const late = await producer.sendInTransaction('half-unknown', { value: 'control' }, () => 'commit');
      await waitFor('the control message', () => seen.messages.length >= 1);
      await sleep(1000);
      assert.deepEqual(
        seen.messages.map((m) => m.value),
        ['control'],
      );
      assert.equal(late.decision, 'commit');
    } finally {
      await abandoned.close();
      await seen.close();
      await producer.close();
    }
  },
);

test(
  'validation: producer group, checker, target topic, partition and reserved headers',
  { timeout: 60_000 },
  async () => {
    const checker = () => 'commit' as const;
    assert.throws(() => new HalfMessageProducer({ producerGroup: '', checker }), ClientOptionError);
    assert.throws(() => new HalfMessageProducer({ producerGroup: 'order service', checker }), /producerGroup/);
    assert.throws(() => new HalfMessageProducer({ producerGroup: 'x'.repeat(201), checker }), /producerGroup/);
    assert.throws(() => new HalfMessageProducer({ producerGroup: 'orders/eu', checker }), /producerGroup/);
    assert.throws(() => new HalfMessageProducer({ producerGroup: 'orders', checker: 'commit' as never }), /checker/);
    assert.throws(() => new HalfMessageProducer(undefined as never), ClientOptionError);
    new HalfMessageProducer({ producerGroup: 'A-z_0.9'.padEnd(200, 'x'), checker });

    await admin.createTopics([{ name: 'half-validation', partitions: 2 }]);
    const producer = halfProducer('half-validation-service', () => 'rollback');
    try {
      await assert.rejects(
        producer.sendHalf('half-no-such-topic', { value: 'x' }),
        (error: unknown) =>
          error instanceof KafkaError &&
          /does not exist/.test(error.message) &&
          /half-no-such-topic/.test(error.message),
      );
      assert.deepEqual(
        await admin.listTopics().then((topics) => topics.filter((t) => t === 'half-no-such-topic')),
        [],
        'looking up the target does not create it',
      );
      await assert.rejects(
        producer.sendHalf('half-validation', { value: 'x', partition: 2 }),
        /partition 2 is not one of the 2 partitions/,
      );
      await assert.rejects(
        producer.sendHalf('half-validation', { value: 'x', headers: { 'sluice.half.topic': 'elsewhere' } }),
        /reserved/,
      );
      await assert.rejects(producer.sendHalf('__sluice_half_op', { value: 'x' }), /internal topic/);
      await assert.rejects(producer.sendHalf('', { value: 'x' }), ClientOptionError);
      await assert.rejects(
        producer.sendInTransaction('half-validation', { value: 'x' }, undefined as never),
        /local transaction/,
      );
    } finally {
      await producer.close();
    }
    await assert.rejects(producer.sendHalf('half-validation', { value: 'x' }), /closed/);
    await assert.rejects(producer.connect(), /closed/);
  },
);
