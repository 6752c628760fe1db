// The half-message service runs without a broker: given only what HalfMessageDependencies lists
// (src/broker/half-messages/dependencies.ts) — partitions on real files behind the broker's own
// adapters, a produce into the target, and its settings — plus a clock and timers moved by hand, so the
// check backoff takes no real time. A half message is written to the channel as a producer would;
// the service moves the committed one, checks and abandons the undecided one, and after a reopen
// holds nothing and moves nothing twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HalfMessageService } from '../../../src/broker/half-messages/service.js';
import type { HalfMessageSettings } from '../../../src/broker/half-messages/settings.js';
import { MemoryLogger } from '../../../src/broker/logger.js';
import { encodeRecordBatchSync } from '../../../src/protocol/record-batch/record-encoder.js';
import { type DecodedRecord } from '../../../src/protocol/record-batch/record-decoder.js';
import { ManualTimers } from '../../support/manual-timers.js';
import { ServiceHome } from '../../support/service-partitions.js';

const settings: HalfMessageSettings = {
  checkDelayMs: 1_000,
  checkMax: 2,
  checkBackoffMaxMs: 1_000,
  logPartitions: 1,
  pendingMax: 100,
};

function headersOf(record: DecodedRecord): Record<string, string> {
  return Object.fromEntries(record.headers.map((h) => [h.key, h.value?.toString() ?? '']));
}

async function recordsOf(home: ServiceHome, topic: string): Promise<DecodedRecord[]> {
  return (await home.batches(topic)).flatMap((batch) => batch.records);
}

async function until(what: string, condition: () => Promise<boolean> | boolean): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await condition()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  assert.fail(`timed out waiting for ${what}`);
}

test('half messages on partitions alone: a commit moved, an undecided one checked by hand, abandoned', async () => {
  const home = await ServiceHome.open();
  const timers = new ManualTimers(home.clock);
  const logger = new MemoryLogger();
  const open = () =>
    HalfMessageService.open(
      {
        logger,
        partitions: home.services,
        appends: home.services,
        producer: home.producer,
        halfMessageSettings: settings,
      },
      { clock: home.clock, timers },
    );
  const sendHalf = async (value: string) => {
    const headers = [
      { key: 'sluice.half.topic', value: Buffer.from('shipments') },
      { key: 'sluice.half.partition', value: Buffer.from('0') },
      { key: 'sluice.half.group', value: Buffer.from('shippers') },
    ];
    const offset = await home.services.append(
      '__sluice_half',
      0,
      encodeRecordBatchSync({ records: [{ key: null, value: Buffer.from(value), headers }] }),
    );
    return `0:${offset}`;
  };
  try {
    await home.createTopic('shipments', 1);
    let service = await open();
    assert.deepEqual(
      ['__sluice_half', '__sluice_half_op', '__sluice_half_abandoned'].map((t) => home.services.partitionCount(t)),
      [1, 1, 1],
      'the channel is created at open',
    );
    const committed = await sendHalf('ship it');
    const undecided = await sendHalf('maybe');
    await until('both pending', () => service.pendingCount === 2);
    await home.services.append(
      '__sluice_half_op',
      0,
      encodeRecordBatchSync({ records: [{ key: Buffer.from(committed), value: Buffer.from('{"op":"commit"}') }] }),
    );
    await until('the move', async () => (await recordsOf(home, 'shipments')).length === 1);
    const [moved] = await recordsOf(home, 'shipments');
    assert.equal(moved!.value!.toString(), 'ship it');
    assert.deepEqual(headersOf(moved!), { 'sluice.half.id': committed });
    assert.equal(service.checksOf(undecided), 0, 'no check before the delay');

    timers.advance(settings.checkDelayMs);
    await until('the first check request', async () => (await recordsOf(home, '__sluice_check.shippers')).length === 1);
    assert.equal(service.checksOf(undecided), 1);
    const [request] = await recordsOf(home, '__sluice_check.shippers');
    assert.equal(headersOf(request!)['sluice.half.check'], '1');
    timers.advance(settings.checkBackoffMaxMs);
    await until('the second check', () => service.checksOf(undecided) === 2);
    timers.advance(settings.checkBackoffMaxMs);
    await until('the abandonment', async () => (await recordsOf(home, '__sluice_half_abandoned')).length === 1);
    await until('nothing pending', () => service.pendingCount === 0);
    const [copy] = await recordsOf(home, '__sluice_half_abandoned');
    assert.equal(headersOf(copy!)['sluice.half.reason'], 'no decision after 2 checks');
    await service.close();
    assert.equal(timers.pending, 0, 'close() cancels its timer');
    await home.close();

    await home.reopen();
    service = await open();
    try {
      assert.equal(service.pendingCount, 0, 'rebuilt from the channel: everything was decided');
      timers.advance(10 * settings.checkBackoffMaxMs);
      assert.equal((await recordsOf(home, 'shipments')).length, 1, 'moved exactly once');
    } finally {
      await service.close();
    }
  } finally {
    await home.remove();
  }
});
