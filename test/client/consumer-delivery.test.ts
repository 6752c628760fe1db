// How a fetch response reaches the handler: batch by batch as each is located, and what happens
// when one of them is damaged on the way (the broker is real; a proxy in front of it damages one
// batch of every Fetch answer it forwards).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startTestBroker } from '../support/test-broker.js';
import { Producer } from '../../src/client/producer.js';
import { Consumer, type ConsumedMessage } from '../../src/client/consumer.js';
import { Admin } from '../../src/client/admin.js';
import { startProxy, type Proxy } from '../support/proxy.js';

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** In the broker's answers, whole frame by whole frame, `find` becomes `replace`. */
function damagingProxy(brokerPort: number, find: Buffer, replace: Buffer): Promise<Proxy> {
  return startProxy(brokerPort, (client) => {
    let pending = Buffer.alloc(0);
    return (data) => {
      pending = Buffer.concat([pending, data]);
      while (pending.length >= 4 && pending.length >= 4 + pending.readInt32BE(0)) {
        const frame = Buffer.from(pending.subarray(0, 4 + pending.readInt32BE(0)));
        pending = pending.subarray(frame.length);
        for (let at = frame.indexOf(find); at >= 0; at = frame.indexOf(find, at + 1)) replace.copy(frame, at);
        client.write(frame);
      }
    };
  });
}

// The error is reported once per retryBackoffMs, and a seek gets past the damaged batch.
test('a damaged batch: those before it in the answer are handled once, it and the rest not', async () => {
  const broker = await startTestBroker();
  const admin = new Admin({ bootstrap: broker.bootstrap });
  const producer = new Producer({ bootstrap: broker.bootstrap, lingerMs: 20 });
  const proxy = await damagingProxy(broker.port, Buffer.from('poison-pill'), Buffer.from('POISON-PILL'));
  try {
    await admin.createTopics([{ name: 'damaged', partitions: 1 }]);
    // Three batches (one sendBatch each): good, one carrying the poison value, good.
    for (const [name, values] of [
      ['a', ['a-0', 'a-1', 'a-2', 'a-3']],
      ['b', ['poison-pill', 'b-1', 'b-2']],
      ['c', ['c-0', 'c-1']],
    ] as const) {
      const results = await producer.sendBatch(
        'damaged',
        values.map((value) => ({ value: Buffer.from(value), partition: 0 })),
      );
      assert.equal(results.length, values.length, name);
    }
    // Clients learn the broker's address from Metadata: point it at the proxy.
    broker.broker.config.advertisedPort = proxy.port;
    const handled: string[] = [];
    const errors: unknown[] = [];
    const errorTimes: number[] = [];
    const consumer = new Consumer({
      bootstrap: `127.0.0.1:${proxy.port}`,
      maxWaitMs: 20,
      retryBackoffMs: 50,
      onError: (error) => {
        errors.push(error);
        errorTimes.push(performance.now());
      },
    });
    consumer.assign([{ topic: 'damaged', partition: 0, offset: 0n }]);
    await consumer.run(async (message) => {
      handled.push(message.value!.toString());
    });
    const deadline = Date.now() + 5000;
    while (errors.length === 0 && Date.now() < deadline) await delay(5);
    // The partition is fetched again every retryBackoffMs (50 ms), not in a tight loop.
    await delay(400);
    const tries = errorTimes.length;
    const gaps = errorTimes.slice(1).map((time, i) => time - errorTimes[i]!);
    // The way past it when the data is known to be lost: seek over the damaged batch (offsets 4–6).
    consumer.seek({ topic: 'damaged', partition: 0 }, 7n);
    while (handled.length < 6 && Date.now() < deadline) await delay(5);
    await consumer.close();
    assert.ok(tries >= 3 && tries <= 400 / 50 + 2, `one try per backoff: ${tries} errors in about 400 ms`);
    assert.ok(
      gaps.every((gap) => gap >= 45),
      `tries ${gaps.map((gap) => gap.toFixed(0)).join(', ')} ms apart`,
    );
    // All three batches come in one answer; the first is handed over before the second is located,
    // the third only after the seek.
    assert.deepEqual(handled, ['a-0', 'a-1', 'a-2', 'a-3', 'c-0', 'c-1']);
    assert.match(String(errors[0]), /crc|CRC/);
  } finally {
    proxy.close();
    await producer.close();
    await admin.close();
    await broker.close();
  }
});

test('headers: by key (the last of a repeated key wins) and as a list; every message has its own', async () => {
  const broker = await startTestBroker();
  const producer = new Producer({ bootstrap: broker.bootstrap });
  try {
    await producer.sendBatch('headers', [
      { value: Buffer.from('plain'), partition: 0 },
      {
        value: Buffer.from('tagged'),
        partition: 0,
        headers: [
          ['trace', 'abc'],
          ['tag', 'x'],
          ['tag', 'y'],
          ['empty', null],
        ],
      },
      { value: Buffer.from('plain-2'), partition: 0 },
    ]);
    const consumer = new Consumer({ bootstrap: broker.bootstrap, maxWaitMs: 20 });
    consumer.assign([{ topic: 'headers', partition: 0, offset: 0n }]);
    const messages: ConsumedMessage[] = [];
    await consumer.run(async (message) => {
      messages.push(message);
    });
    const deadline = Date.now() + 5000;
    while (messages.length < 3 && Date.now() < deadline) await delay(10);
    await consumer.close();
    const [plain, tagged, plain2] = messages;
    assert.deepEqual(
      messages.map((m) => m.value!.toString()),
      ['plain', 'tagged', 'plain-2'],
    );
    assert.deepEqual(
      tagged!.headerList.map((h) => [h.key, h.value?.toString() ?? null]),
      [
        ['trace', 'abc'],
        ['tag', 'x'],
        ['tag', 'y'],
        ['empty', null],
      ],
    );
    assert.equal(tagged!.headers['trace']!.toString(), 'abc');
    assert.equal(tagged!.headers['tag']!.toString(), 'y', 'the last value of a repeated key');
    assert.equal(tagged!.headers['empty'], null);
    // A handler may add to a message's headers (e.g. before forwarding it); no other message sees it.
    plain!.headers['added'] = Buffer.from('1');
    plain!.headerList.push({ key: 'added', value: null });
    assert.deepEqual([Object.keys(plain2!.headers).length, plain2!.headerList.length], [0, 0]);
  } finally {
    await producer.close();
    await broker.close();
  }
});
