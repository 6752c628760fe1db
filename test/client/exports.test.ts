// The package entry exports the client.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as sluice from '../../src/index.js';

test('the package exports Producer, Consumer, Admin and the helpers', () => {
  for (const name of [
    'Producer',
    'Consumer',
    'Admin',
    'MemoryDedupStore',
    'deduplicate',
    'stringSerde',
    'jsonSerde',
    'KafkaError',
    'murmur2',
    'DLQ_HEADERS',
    'startBroker',
  ]) {
    assert.ok(name in sluice, name);
  }
});
