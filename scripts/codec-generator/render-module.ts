// Renders one generated codec module: per API, src/protocol/generated/<api>.ts with the request and
// the response (types, readers, writers, and the encode/decode entry points with their version
// checks); per header or embedded "data" schema, a module with that one message.
import { Emitter, GENERATED_HEADER } from './emitter.js';
import { emitReader } from './emit-readers.js';
import { emitTypes } from './emit-types.js';
import { emitWriter } from './emit-writers.js';
import { camel, type ApiPair, type Message } from './schema-model.js';
import { rangeText } from './version-range.js';

function emitMessage(out: Emitter, message: Message): void {
  emitTypes(out, message);
  for (const struct of message.structs) emitReader(out, message, struct, message.valid);
  for (const struct of message.structs) emitWriter(out, message, struct, message.valid);
}

function emitCodecExports(out: Emitter, message: Message, kind: 'Request' | 'Response' | '', exportName: string): void {
  const name = message.root.typeName;
  const fn = kind || 'Message';
  const inValid = `version >= ${message.valid.min} && version <= ${message.valid.max}`;
  const flexibleMax = message.flexible.max === Infinity ? 'Infinity' : message.flexible.max;
  out.line(`/** Versions of ${name} this module can read and write. */`);
  out.line(`export const ${camel(exportName)}Versions = ${rangeText(message.valid)};`);
  out.line(`export const ${camel(exportName)}FlexibleVersions = ${rangeText(message.flexible)};`);
  out.line();
  out.line(`export function isFlexible${fn}(version: number): boolean {`);
  out.line(`  return version >= ${message.flexible.min} && version <= ${flexibleMax};`);
  out.line('}');
  out.line();
  out.line(`/** Encodes a ${name} body (no size prefix, no header) in the given version. */`);
  out.line(`export function encode${fn}(version: number, value: ${name}Input, w = new ByteWriter()): ByteWriter {`);
  out.line(`  if (!(${inValid})) throw new EncodeError(API, version, '', 'unsupported version of ${name}');`);
  out.line(`  write${name}(w, version, isFlexible${fn}(version), value);`);
  out.line('  return w;');
  out.line('}');
  out.line();
  out.line(`/**`);
  out.line(` * Decodes a ${name} body from \`buffer[offset, end)\`; bytes fields are slices of \`buffer\`.`);
  out.line(` * The body must fill the range exactly unless \`allowTrailingBytes\` (Kafka's broker ignores bytes`);
  out.line(` * after a request, and some clients send a field one version early).`);
  out.line(` */`);
  out.line(
    `export function decode${fn}(version: number, buffer: Buffer, offset = 0, end = buffer.length, ` +
      `options: DecodeOptions = {}): ${name} {`,
  );
  out.line(`  const r = new ByteReader(buffer, offset, end, ${JSON.stringify(name)}, version);`);
  out.line(`  if (!(${inValid})) r.fail('', 'unsupported version of ${name}');`);
  out.line(`  const value = read${name}(r, version, isFlexible${fn}(version));`);
  out.line(
    `  if (r.remaining !== 0 && options.allowTrailingBytes !== true) ` +
      `r.fail('', r.remaining + ' unexpected bytes after the message');`,
  );
  out.line('  return value;');
  out.line('}');
  out.line();
}

const IMPORTS = [
  `import { ByteReader } from '../primitives/byte-reader.js';`,
  `import { ByteWriter } from '../primitives/byte-writer.js';`,
  `import { EncodeError } from '../errors.js';`,
  `import { EMPTY_BYTES, ZERO_UUID, readArray, readNullableArray, type DecodeOptions } ` +
    `from '../primitives/helpers.js';`,
].join('\n');

/** The emitted text with runs of blank lines folded to one and a single newline at the end. */
function finish(out: Emitter): string {
  return (
    out
      .text()
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}

export function renderApiModule(api: ApiPair): string {
  const out = new Emitter();
  out.line(GENERATED_HEADER);
  out.line(
    `// ${api.name}: API key ${api.apiKey}, request versions ${api.request.raw.validVersions} ` +
      `(flexible ${api.request.raw.flexibleVersions}).`,
  );
  out.line(IMPORTS);
  out.line();
  out.line(`const API = ${JSON.stringify(api.name)};`);
  out.line(`export const apiKey = ${api.apiKey};`);
  out.line(`export const apiName = ${JSON.stringify(api.name)};`);
  out.line(`/** True when Kafka marks the top request version as unstable (not advertised by a stock broker). */`);
  out.line(`export const latestVersionUnstable = ${api.unstableMax};`);
  out.line();
  emitMessage(out, api.request);
  emitCodecExports(out, api.request, 'Request', 'request');
  emitMessage(out, api.response);
  emitCodecExports(out, api.response, 'Response', 'response');
  return finish(out);
}

export function renderStandalone(message: Message): string {
  const out = new Emitter();
  out.line(GENERATED_HEADER);
  out.line(
    `// ${message.raw.name} (${message.raw.type}), versions ${message.raw.validVersions} ` +
      `(flexible ${message.raw.flexibleVersions}).`,
  );
  out.line(IMPORTS);
  out.line();
  out.line(`const API = ${JSON.stringify(message.raw.name)};`);
  out.line();
  emitMessage(out, message);
  emitCodecExports(out, message, '', 'message');
  return finish(out);
}
