// Renders src/protocol/generated/index.ts: every generated module under its camelCase name, the
// error codes, one ApiCodec interface that every API module satisfies, the table of codecs by API
// key (the server's router and the client look APIs up in it) and the API keys by name.
import { Emitter, GENERATED_HEADER } from './emitter.js';
import { camel, type ApiPair, type StandaloneMessage } from './schema-model.js';

export function renderIndex(apis: ApiPair[], standalone: StandaloneMessage[]): string {
  const out = new Emitter();
  const byKey = [...apis].sort((a, b) => a.apiKey - b.apiKey);
  const moduleNames = [...apis.map((a) => camel(a.name)), ...standalone.map((s) => camel(s.message.raw.name))];
  out.line(GENERATED_HEADER);
  out.line(`import type { ByteWriter } from '../primitives/byte-writer.js';`);
  out.line(`import type { DecodeOptions } from '../primitives/helpers.js';`);
  for (const api of apis) out.line(`import * as ${camel(api.name)} from './${api.file}.js';`);
  for (const s of standalone) out.line(`import * as ${camel(s.message.raw.name)} from './${s.file}.js';`);
  out.line();
  out.line(`export { ${moduleNames.join(', ')} };`);
  out.line(`export * from './error-codes.js';`);
  out.line();
  out.line('/** What every generated API module offers, seen through one interface. */');
  out.line('export interface ApiCodec {');
  out.line('  apiKey: number;');
  out.line('  apiName: string;');
  out.line('  latestVersionUnstable: boolean;');
  out.line('  requestVersions: { min: number; max: number };');
  out.line('  requestFlexibleVersions: { min: number; max: number };');
  out.line('  responseVersions: { min: number; max: number };');
  out.line('  responseFlexibleVersions: { min: number; max: number };');
  out.line('  isFlexibleRequest(version: number): boolean;');
  out.line('  isFlexibleResponse(version: number): boolean;');
  out.line('  encodeRequest(version: number, value: any, w?: ByteWriter): ByteWriter;');
  out.line(
    '  decodeRequest(version: number, buffer: Buffer, offset?: number, end?: number, options?: DecodeOptions): any;',
  );
  out.line('  encodeResponse(version: number, value: any, w?: ByteWriter): ByteWriter;');
  out.line(
    '  decodeResponse(version: number, buffer: Buffer, offset?: number, end?: number, options?: DecodeOptions): any;',
  );
  out.line('}');
  out.line();
  out.line('/** Every API with a generated codec, by API key. */');
  out.line('export const apiCodecs: ReadonlyMap<number, ApiCodec> = new Map<number, ApiCodec>([');
  for (const api of byKey) out.line(`  [${api.apiKey}, ${camel(api.name)}],`);
  out.line(']);');
  out.line();
  out.line('/** API keys by name. */');
  out.line('export const ApiKey = {');
  for (const api of byKey) out.line(`  ${api.name}: ${api.apiKey},`);
  out.line('} as const;');
  return out.text().trimEnd() + '\n';
}
