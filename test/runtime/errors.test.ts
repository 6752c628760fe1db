// The error registry (src/runtime/errors.ts) against the source: every error class is listed, under
// its layer, and every Kafka code it names is Kafka's code of that name.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';
import {
  BufferFullError,
  ClientClosedError,
  ClientOptionError,
  ConnectionError,
  RequestTimeoutError,
} from '../../src/client/errors.js';
import { ProducerFencedError } from '../../src/client/transaction.js';
import { errorCodeInfo } from '../../src/protocol/generated/error-codes.js';
import { errorTypes, storageErrorCodes, type ErrorType } from '../../src/runtime/errors.js';
import { StorageError } from '../../src/storage/errors.js';
import { repositoryRoot } from '../../scripts/generate-protocol.js';
import { typeScriptFiles } from '../support/tidy-rules.js';

const srcRoot = join(repositoryRoot, 'src');
const registry: Record<string, ErrorType> = errorTypes;

/** Every `class X extends …Error` in src/ (not generated), with the layer (top folder) it is in. */
function errorClassesInSource(): Map<string, string> {
  const found = new Map<string, string>();
  for (const file of typeScriptFiles(srcRoot)) {
    const path = relative(srcRoot, file);
    if (path.split(sep).includes('generated')) continue;
    for (const match of readFileSync(file, 'utf8').matchAll(/^(?:export )?class (\w+) extends (\w*Error)\b/gm))
      found.set(match[1]!, path.split(sep)[0]!);
  }
  return found;
}

test('every error class in src/ is in the registry, under the layer that declares it, and nothing else is', () => {
  const inSource = errorClassesInSource();
  assert.ok(inSource.size > 20, `found only ${inSource.size} error classes: the scan is broken`);
  for (const [name, layer] of inSource) {
    assert.ok(registry[name] !== undefined, `${name} (${layer}/) is not in src/runtime/errors.ts`);
    assert.equal(registry[name]!.layer, layer, `${name} is declared in ${layer}/`);
  }
  for (const name of Object.keys(registry)) assert.ok(inSource.has(name), `${name} is registered but no class has it`);
});

test("every Kafka code the registry names is Kafka's code of that name", () => {
  for (const [name, type] of Object.entries(registry)) {
    if (type.kafka === null) continue;
    assert.equal(errorCodeInfo.get(type.kafka.code)?.name, type.kafka.name, `${name}: ${type.kafka.name}`);
    assert.equal(type.perInstance, undefined, `${name} names one Kafka code, so it is not per instance`);
  }
  for (const [code, entry] of Object.entries(storageErrorCodes))
    assert.ok(errorCodeInfo.has(entry.kafkaCode), `storage code ${code}: ${entry.kafkaCode} is no Kafka code`);
});

test('the classes answer what the registry says', () => {
  const instances = [
    new ConnectionError('x'),
    new RequestTimeoutError('x'),
    new ClientOptionError('x'),
    new ClientClosedError('x'),
    new BufferFullError('x'),
    new ProducerFencedError('id'),
  ];
  for (const error of instances) {
    assert.equal(error.retriable, registry[error.name]!.retriable, error.name);
  }
  assert.equal(new ConnectionError('x').retriable, true);
  assert.equal(new ClientOptionError('x').retriable, false);
  for (const code of Object.keys(storageErrorCodes) as (keyof typeof storageErrorCodes)[]) {
    const error = new StorageError(code);
    assert.equal(error.name, 'StorageError');
    assert.equal(error.kafkaCode, storageErrorCodes[code].kafkaCode);
  }
});
