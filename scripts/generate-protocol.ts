// Generates src/protocol/generated/ from Kafka's JSON message schemas in src/protocol/schemas/.
//
//   npm run generate            rewrite src/protocol/generated/
//   generateProtocol(dir)       the same output as a Map<file name, text> (used by test/tidy.test.ts)
//
// One module per API (request and response together) covering every version in `validVersions`,
// plus one module per header and per embedded "data" schema, and index.ts with the API table.
// Each struct gets: an output interface (every field present; what decode returns), an input
// interface (every field optional; absent fields take the schema default), a reader and a writer.
// The writer/reader branch on the version at run time; flexible versions use compact encodings and
// end every struct with a tagged-field section (unknown tags are skipped on read).
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderErrorCodes } from './generate-error-codes.js';

// ---------------------------------------------------------------------------------------------
// Schema model

export interface VersionRange {
  min: number;
  max: number; // Infinity for "N+"; min > max for "none"
}

export interface RawField {
  name: string;
  type: string;
  versions?: string;
  nullableVersions?: string;
  taggedVersions?: string;
  tag?: number;
  default?: string | number | boolean;
  ignorable?: boolean;
  flexibleVersions?: string;
  fields?: RawField[];
  about?: string;
}

export interface RawMessage {
  apiKey?: number;
  type: 'request' | 'response' | 'header' | 'data';
  name: string;
  validVersions: string;
  flexibleVersions: string;
  latestVersionUnstable?: boolean;
  fields: RawField[];
  commonStructs?: Array<{ name: string; versions?: string; fields: RawField[] }>;
}

const PRIMITIVES = new Set([
  'bool',
  'int8',
  'int16',
  'uint16',
  'int32',
  'int64',
  'float64',
  'string',
  'bytes',
  'records',
  'uuid',
]);

function parseRange(text: string | undefined, what: string): VersionRange {
  if (text === undefined) throw new Error(`${what}: missing versions`);
  const trimmed = text.trim();
  if (trimmed === 'none') return { min: 1, max: 0 };
  let match = /^(\d+)\+$/.exec(trimmed);
  if (match) return { min: Number(match[1]), max: Infinity };
  match = /^(\d+)-(\d+)$/.exec(trimmed);
  if (match) return { min: Number(match[1]), max: Number(match[2]) };
  match = /^(\d+)$/.exec(trimmed);
  if (match) return { min: Number(match[1]), max: Number(match[1]) };
  throw new Error(`${what}: cannot parse version range "${text}"`);
}

function isEmpty(range: VersionRange): boolean {
  return range.min > range.max;
}

function intersect(a: VersionRange, b: VersionRange): VersionRange {
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) };
}

/** A TypeScript condition "version is in range", simplified against the versions that can occur. */
function rangeCondition(range: VersionRange, possible: VersionRange, variable = 'version'): string {
  const r = intersect(range, possible);
  if (isEmpty(r)) return 'false';
  const parts: string[] = [];
  if (r.min > possible.min) parts.push(`${variable} >= ${r.min}`);
  if (r.max < possible.max) parts.push(`${variable} <= ${r.max}`);
  return parts.length === 0 ? 'true' : parts.join(' && ');
}

function readSchema(path: string): RawMessage {
  const text = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => !line.trim().startsWith('//'))
    .join('\n');
  return JSON.parse(text) as RawMessage;
}

function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

// ---------------------------------------------------------------------------------------------
// Resolved model

export interface Field {
  name: string; // wire name (schema)
  property: string; // TypeScript property
  versions: VersionRange;
  nullable: VersionRange;
  tagged: VersionRange;
  tag: number | undefined;
  flexibleOverride: VersionRange | undefined;
  ignorable: boolean;
  defaultText: string | number | boolean | undefined;
  isArray: boolean;
  elementType: string; // primitive name or struct type name (already prefixed)
  struct: Struct | undefined; // element struct when the type is a struct
  about: string;
}

export interface Struct {
  typeName: string; // TypeScript name (output); input is typeName + 'Input'
  fields: Field[];
  versions: VersionRange; // versions in which this struct can appear
}

export interface Message {
  raw: RawMessage;
  file: string;
  valid: VersionRange;
  flexible: VersionRange;
  root: Struct;
  structs: Struct[]; // every struct of the message, root last
}

function resolveMessage(raw: RawMessage, file: string, typePrefix: (structName: string) => string): Message {
  const valid = parseRange(raw.validVersions, raw.name);
  const flexible = parseRange(raw.flexibleVersions, raw.name);
  const structs: Struct[] = [];
  const byName = new Map<string, Struct>();
  const common = new Map((raw.commonStructs ?? []).map((s) => [s.name, s] as const));

  function structFor(name: string, fields: RawField[], versions: VersionRange): Struct {
    const existing = byName.get(name);
    if (existing) {
      existing.versions = {
        min: Math.min(existing.versions.min, versions.min),
        max: Math.max(existing.versions.max, versions.max),
      };
      return existing;
    }
    const struct: Struct = { typeName: typePrefix(name), fields: [], versions };
    byName.set(name, struct);
    struct.fields = fields.map((f) => resolveField(f, versions, name));
    structs.push(struct);
    return struct;
  }

  function resolveField(f: RawField, parentVersions: VersionRange, parentName: string): Field {
    const what = `${raw.name}.${parentName}.${f.name}`;
    const isArray = f.type.startsWith('[]');
    const elementType = isArray ? f.type.slice(2) : f.type;
    // Field versions are absolute: a common struct used at 0-3 in one place and 4+ in another keeps
    // its fields' own ranges. The parent only bounds where the struct itself can occur.
    void parentVersions;
    const versions = intersect(parseRange(f.versions, what), valid);
    let struct: Struct | undefined;
    if (!PRIMITIVES.has(elementType)) {
      if (f.fields) struct = structFor(elementType, f.fields, versions);
      else {
        const shared = common.get(elementType);
        if (!shared) throw new Error(`${what}: unknown type ${elementType}`);
        struct = structFor(elementType, shared.fields, versions);
      }
    }
    return {
      name: f.name,
      property: camel(f.name),
      versions,
      nullable: f.nullableVersions ? parseRange(f.nullableVersions, what) : { min: 1, max: 0 },
      tagged: f.taggedVersions ? parseRange(f.taggedVersions, what) : { min: 1, max: 0 },
      tag: f.tag,
      flexibleOverride: f.flexibleVersions ? parseRange(f.flexibleVersions, what) : undefined,
      ignorable: f.ignorable === true,
      defaultText: f.default,
      isArray,
      elementType: struct ? struct.typeName : elementType,
      struct,
      about: f.about ?? '',
    };
  }

  const rootName = raw.name;
  const root: Struct = { typeName: rootName, fields: [], versions: valid };
  byName.set(rootName, root);
  root.fields = raw.fields.map((f) => resolveField(f, valid, rootName));
  structs.push(root);
  return { raw, file, valid, flexible, root, structs };
}

// ---------------------------------------------------------------------------------------------
// Code generation for one message

class Emitter {
  private readonly lines: string[] = [];
  line(text = ''): void {
    this.lines.push(text);
  }
  text(): string {
    return this.lines.join('\n');
  }
}

function tsElementType(field: Field, input: boolean): string {
  switch (field.elementType) {
    case 'bool':
      return 'boolean';
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'float64':
      return 'number';
    case 'int64':
      return 'bigint';
    case 'string':
      return 'string';
    case 'bytes':
    case 'records':
    case 'uuid':
      return 'Buffer';
    default:
      return input ? `${field.elementType}Input` : field.elementType;
  }
}

function tsType(field: Field, input: boolean): string {
  const element = tsElementType(field, input);
  let type = field.isArray ? `${element}[]` : element;
  if (!isEmpty(field.nullable)) type += ' | null';
  return type;
}

/** The default value of a field as a TypeScript expression. */
function defaultExpression(field: Field): string {
  const d = field.defaultText;
  if (d === 'null') return 'null';
  if (field.isArray) return '[]';
  switch (field.elementType) {
    case 'bool':
      return d === undefined ? 'false' : String(d === true || d === 'true');
    case 'int8':
    case 'int16':
    case 'uint16':
    case 'int32':
    case 'float64':
      return d === undefined || d === '' ? '0' : String(Number(d));
    case 'int64':
      return d === undefined || d === '' ? '0n' : `${BigInt(d as string)}n`;
    case 'string':
      return JSON.stringify(d === undefined ? '' : String(d));
    case 'bytes':
    case 'records':
      return 'EMPTY_BYTES';
    case 'uuid':
      return 'ZERO_UUID';
    default:
      return `create${field.elementType}()`;
  }
}

/** Minimum encoded size of one element of an array field, used to bound hostile array counts. */
function minimumBytes(field: Field, flexible: boolean): number {
  if (field.isArray) return flexible ? 1 : 4;
  switch (field.elementType) {
    case 'bool':
    case 'int8':
      return 1;
    case 'int16':
    case 'uint16':
      return 2;
    case 'int32':
      return 4;
    case 'int64':
    case 'float64':
      return 8;
    case 'uuid':
      return 16;
    case 'string':
      return flexible ? 1 : 2;
    case 'bytes':
    case 'records':
      return flexible ? 1 : 4;
    default:
      return 1; // a struct: at least its tagged-field count or one field
  }
}

function elementMinimumBytes(field: Field, message: Message): number {
  if (!field.struct)
    return minimumBytes({ ...field, isArray: false }, !isEmpty(intersect(message.flexible, field.versions)));
  // a struct element: smallest over the versions it can appear in
  let smallest = Infinity;
  const possible = intersect(field.versions, message.valid);
  for (let v = possible.min; v <= Math.min(possible.max, message.valid.max); v++) {
    const flexible = v >= message.flexible.min && v <= message.flexible.max;
    let size = flexible ? 1 : 0;
    for (const f of field.struct.fields) {
      const inVersion = v >= f.versions.min && v <= f.versions.max;
      const isTagged = v >= f.tagged.min && v <= f.tagged.max;
      if (inVersion && !isTagged) size += minimumBytes(f, flexible);
    }
    smallest = Math.min(smallest, size);
  }
  return Number.isFinite(smallest) ? Math.max(1, smallest) : 1;
}

function primitiveMethod(elementType: string, compact: boolean, nullable: boolean): string {
  switch (elementType) {
    case 'string':
      return compact ? (nullable ? 'compactNullableString' : 'compactString') : nullable ? 'nullableString' : 'string';
    case 'bytes':
    case 'records':
      return compact ? (nullable ? 'compactNullableBytes' : 'compactBytes') : nullable ? 'nullableBytes' : 'bytes';
    default:
      return elementType;
  }
}

function emitMessage(out: Emitter, message: Message): void {
  const possible = message.valid;

  for (const struct of message.structs) {
    // Output type
    out.line(`export interface ${struct.typeName} {`);
    for (const f of struct.fields) {
      out.line(
        `  /** ${f.about.replace(/\*\//g, '* /')} (versions ${f.versions.min}${f.versions.max === Infinity ? '+' : `-${f.versions.max}`}) */`,
      );
      out.line(`  ${f.property}: ${tsType(f, false)};`);
    }
    out.line('}');
    out.line();
    out.line(`export interface ${struct.typeName}Input {`);
    for (const f of struct.fields) out.line(`  ${f.property}?: ${tsType(f, true)};`);
    out.line('}');
    out.line();
    out.line(`export function create${struct.typeName}(): ${struct.typeName} {`);
    out.line('  return {');
    for (const f of struct.fields) out.line(`    ${f.property}: ${defaultExpression(f)},`);
    out.line('  };');
    out.line('}');
    out.line();
  }

  for (const struct of message.structs) emitReader(out, message, struct, possible);
  for (const struct of message.structs) emitWriter(out, message, struct, possible);
}

function pathOf(struct: Struct, message: Message, field: Field): string {
  return struct === message.root ? field.property : `${struct.typeName}.${field.property}`;
}

function emitReadValue(field: Field, message: Message, path: string, compactExpr: string, element: boolean): string {
  // Returns an expression reading one value (an element when `element`).
  const nullableExpr = element ? 'false' : null;
  if (!element && field.isArray) {
    const min = elementMinimumBytes(field, message);
    const nullable = !isEmpty(field.nullable) ? rangeCondition(field.nullable, field.versions) : 'false';
    const readElement = `() => ${emitReadValue(field, message, path + '[]', compactExpr, true)}`;
    if (nullable === 'false') return `readArray(r, ${compactExpr}, ${JSON.stringify(path)}, ${min}, ${readElement})`;
    return `readNullableArray(r, ${compactExpr}, ${JSON.stringify(path)}, ${min}, ${nullable}, ${readElement})`;
  }
  if (field.struct) {
    if (!element && !isEmpty(field.nullable)) {
      return `(r.int8(${JSON.stringify(path)}) < 0 && (${rangeCondition(field.nullable, field.versions)}) ? null : read${field.struct.typeName}(r, version, flexible))`;
    }
    return `read${field.struct.typeName}(r, version, flexible)`;
  }
  const type = field.elementType;
  if (type === 'string' || type === 'bytes' || type === 'records') {
    const nullable =
      nullableExpr ?? (isEmpty(field.nullable) ? 'false' : rangeCondition(field.nullable, field.versions));
    const compactMethod = primitiveMethod(type, true, false);
    const compactNullable = primitiveMethod(type, true, true);
    const plain = primitiveMethod(type, false, false);
    const plainNullable = primitiveMethod(type, false, true);
    const p = JSON.stringify(path);
    const notNull = choose(compactExpr, `r.${compactMethod}(${p})`, `r.${plain}(${p})`);
    const maybeNull = choose(compactExpr, `r.${compactNullable}(${p})`, `r.${plainNullable}(${p})`);
    return choose(nullable, maybeNull, notNull);
  }
  return `r.${type}(${JSON.stringify(path)})`;
}

/** `cond ? a : b`, folded when the condition is a literal. */
function choose(condition: string, whenTrue: string, whenFalse: string): string {
  if (condition === 'true') return whenTrue;
  if (condition === 'false') return whenFalse;
  return `(${condition} ? ${whenTrue} : ${whenFalse})`;
}

function compactExpression(field: Field): string {
  if (field.flexibleOverride)
    return isEmpty(field.flexibleOverride)
      ? 'false'
      : `(flexible && ${rangeCondition(field.flexibleOverride, { min: 0, max: Infinity })})`;
  return 'flexible';
}

function emitReader(out: Emitter, message: Message, struct: Struct, possible: VersionRange): void {
  const isRoot = struct === message.root;
  out.line(
    `${isRoot ? 'export ' : ''}function read${struct.typeName}(r: ByteReader, version: number, flexible: boolean): ${struct.typeName} {`,
  );
  const structPossible = intersect(struct.versions, possible);
  for (const f of struct.fields) {
    const path = pathOf(struct, message, f);
    const regular = `${rangeCondition(f.versions, structPossible)}`;
    const taggedCond = isEmpty(f.tagged) ? 'false' : rangeCondition(f.tagged, structPossible);
    const read = emitReadValue(f, message, path, compactExpression(f), false);
    const def = defaultExpression(f);
    let cond = regular;
    if (taggedCond !== 'false') cond = regular === 'false' ? 'false' : `(${regular}) && !(flexible && (${taggedCond}))`;
    if (cond === 'false') out.line(`  let ${f.property}: ${tsType(f, false)} = ${def};`);
    else if (cond === 'true') out.line(`  let ${f.property}: ${tsType(f, false)} = ${read};`);
    else out.line(`  let ${f.property}: ${tsType(f, false)} = ${cond} ? ${read} : ${def};`);
  }
  const tagged = struct.fields.filter((f) => !isEmpty(f.tagged));
  out.line('  if (flexible) {');
  out.line(
    `    const count = r.uvarint(${JSON.stringify(isRoot ? '<tagged fields>' : `${struct.typeName}.<tagged fields>`)});`,
  );
  out.line('    for (let i = 0; i < count; i++) {');
  out.line(`      const tag = r.uvarint('<tag>');`);
  out.line(`      const size = r.uvarint('<tag size>');`);
  out.line('      const end = r.offset + size;');
  out.line(
    `      if (size > r.remaining) r.fail('<tagged field ' + tag + '>', 'tagged field of ' + size + ' bytes, ' + r.remaining + ' left');`,
  );
  if (tagged.length > 0) {
    out.line('      switch (tag) {');
    for (const f of tagged) {
      const path = pathOf(struct, message, f);
      out.line(`        case ${f.tag}:`);
      out.line(
        `          if (${rangeCondition(intersect(f.tagged, f.versions), structPossible)}) ${f.property} = ${emitReadValue(f, message, path, 'true', false)};`,
      );
      out.line('          break;');
    }
    out.line('      }');
  }
  out.line(`      if (r.offset > end) r.fail('<tagged field ' + tag + '>', 'tagged field overran its size');`);
  out.line('      r.offset = end;');
  out.line('    }');
  out.line('  }');
  out.line(`  return { ${struct.fields.map((f) => f.property).join(', ')} };`);
  out.line('}');
  out.line();
}

function emitWriteValue(
  field: Field,
  valueExpr: string,
  path: string,
  compactExpr: string,
  element: boolean,
  indent: string,
): string[] {
  const p = JSON.stringify(path);
  if (!element && field.isArray) {
    const nullable = isEmpty(field.nullable) ? 'false' : rangeCondition(field.nullable, field.versions);
    const inner = emitWriteValue(field, 'item', path + '[]', compactExpr, true, indent + '  ');
    return [
      `${indent}if (${valueExpr} === null) {`,
      nullable === 'true'
        ? null
        : nullable === 'false'
          ? `${indent}  throw new EncodeError(API, version, ${p}, 'null where not nullable');`
          : `${indent}  if (!(${nullable})) throw new EncodeError(API, version, ${p}, 'null where not nullable');`,
      nullable === 'false'
        ? null
        : compactExpr === 'true'
          ? `${indent}  w.uvarint(0);`
          : `${indent}  if (${compactExpr}) w.uvarint(0); else w.int32(-1);`,
      `${indent}} else {`,
      compactExpr === 'true'
        ? `${indent}  w.uvarint(${valueExpr}.length + 1);`
        : `${indent}  if (${compactExpr}) w.uvarint(${valueExpr}.length + 1); else w.int32(${valueExpr}.length);`,
      `${indent}  for (const item of ${valueExpr}) {`,
      ...inner.map((l) => '  ' + l),
      `${indent}  }`,
      `${indent}}`,
    ].filter((line): line is string => line !== null);
  }
  if (field.struct) {
    if (!element && !isEmpty(field.nullable)) {
      return [
        `${indent}if (${valueExpr} === null) {`,
        `${indent}  if (!(${rangeCondition(field.nullable, field.versions)})) throw new EncodeError(API, version, ${p}, 'null where not nullable');`,
        `${indent}  w.int8(-1);`,
        `${indent}} else {`,
        `${indent}  w.int8(1);`,
        `${indent}  write${field.struct.typeName}(w, version, flexible, ${valueExpr});`,
        `${indent}}`,
      ];
    }
    return [
      `${indent}write${field.struct.typeName}(w, version, flexible, ${valueExpr} as ${field.struct.typeName}Input);`,
    ];
  }
  const type = field.elementType;
  if (type === 'string' || type === 'bytes' || type === 'records') {
    const nullable = element
      ? 'false'
      : isEmpty(field.nullable)
        ? 'false'
        : rangeCondition(field.nullable, field.versions);
    const lines = [];
    if (!element && !isEmpty(field.nullable)) {
      if (nullable !== 'true')
        lines.push(
          `${indent}if (${valueExpr} === null && !(${nullable})) throw new EncodeError(API, version, ${p}, 'null where not nullable');`,
        );
    } else if (!element) {
      lines.push(
        `${indent}if (${valueExpr} === null) throw new EncodeError(API, version, ${p}, 'null where not nullable');`,
      );
    }
    const cn = primitiveMethod(type, true, true);
    const pn = primitiveMethod(type, false, true);
    const c = primitiveMethod(type, true, false);
    const pl = primitiveMethod(type, false, false);
    const [compactCall, plainCall] =
      !element && !isEmpty(field.nullable)
        ? [`w.${cn}(${valueExpr});`, `w.${pn}(${valueExpr});`]
        : [`w.${c}(${valueExpr});`, `w.${pl}(${valueExpr});`];
    if (compactExpr === 'true') lines.push(`${indent}${compactCall}`);
    else if (compactExpr === 'false') lines.push(`${indent}${plainCall}`);
    else lines.push(`${indent}if (${compactExpr}) ${compactCall} else ${plainCall}`);
    return lines;
  }
  return [`${indent}w.${type}(${valueExpr});`];
}

function isDefaultCheck(field: Field, valueExpr: string): string {
  // true when the value equals the field's default (so it may be dropped silently)
  const def = defaultExpression(field);
  if (field.isArray)
    return def === 'null' ? `${valueExpr} === null` : `(${valueExpr} !== null && ${valueExpr}.length === 0)`;
  if (field.struct) return def === 'null' ? `${valueExpr} === null` : 'true';
  if (def === 'EMPTY_BYTES') return `(${valueExpr} !== null && ${valueExpr}.length === 0)`;
  if (def === 'ZERO_UUID') return `ZERO_UUID.equals(${valueExpr})`;
  return `${valueExpr} === ${def}`;
}

function emitWriter(out: Emitter, message: Message, struct: Struct, possible: VersionRange): void {
  const isRoot = struct === message.root;
  out.line(
    `${isRoot ? 'export ' : ''}function write${struct.typeName}(w: ByteWriter, version: number, flexible: boolean, value: ${struct.typeName}Input): void {`,
  );
  const structPossible = intersect(struct.versions, possible);
  const taggedFields = struct.fields.filter((f) => !isEmpty(f.tagged)).sort((a, b) => (a.tag ?? 0) - (b.tag ?? 0));
  for (const f of struct.fields) {
    const path = pathOf(struct, message, f);
    const regular = rangeCondition(f.versions, structPossible);
    const taggedCond = isEmpty(f.tagged) ? 'false' : rangeCondition(f.tagged, structPossible);
    const local = `${f.property}Value`;
    const def = defaultExpression(f);
    const needsValue = regular !== 'false' || taggedCond !== 'false' || !f.ignorable;
    if (!needsValue) continue;
    out.line(`  const ${local} = value.${f.property} === undefined ? ${def} : value.${f.property};`);
    let cond = regular;
    if (taggedCond !== 'false') cond = regular === 'false' ? 'false' : `(${regular}) && !(flexible && (${taggedCond}))`;
    const body = emitWriteValue(f, local, path, compactExpression(f), false, '    ');
    if (cond === 'true') {
      for (const l of body) out.line(l.slice(2));
    } else {
      if (cond !== 'false') {
        out.line(`  if (${cond}) {`);
        for (const l of body) out.line(l);
        out.line('  }');
      }
      if (!f.ignorable && taggedCond === 'false') {
        const notIn = cond === 'false' ? 'true' : `!(${cond})`;
        out.line(`  ${cond === 'false' ? '' : 'else '}if (${notIn} && !(${isDefaultCheck(f, local)})) {`);
        out.line(
          `    throw new EncodeError(API, version, ${JSON.stringify(path)}, 'field is not supported in this version and is not ignorable');`,
        );
        out.line('  }');
      }
    }
  }
  out.line('  if (flexible) {');
  if (taggedFields.length === 0) out.line('    w.uvarint(0);');
  else {
    out.line('    let taggedCount = 0;');
    for (const f of taggedFields) {
      const path = pathOf(struct, message, f);
      const cond = rangeCondition(intersect(f.tagged, f.versions), structPossible);
      const local = `${f.property}Value`;
      out.line(`    let ${f.property}Tagged: Buffer | null = null;`);
      out.line(`    if (${cond}) {`);
      out.line(`      const encodeTagged = (value: ${tsType(f, true)}): Buffer => {`);
      out.line('        const w = new ByteWriter(64);');
      for (const l of emitWriteValue(f, 'value', path, 'true', false, '        ')) out.line(l);
      out.line('        return w.toBuffer();');
      out.line('      };');
      out.line(`      const bytes = encodeTagged(${local});`);
      // Kafka writes a tagged field only when it differs from its default.
      if (f.struct && !f.isArray && defaultExpression(f) !== 'null')
        out.line(`      if (!bytes.equals(encodeTagged(${defaultExpression(f)}))) ${f.property}Tagged = bytes;`);
      else out.line(`      if (!(${isDefaultCheck(f, local)})) ${f.property}Tagged = bytes;`);
      out.line(`      if (${f.property}Tagged !== null) taggedCount++;`);
      out.line('    }');
    }
    out.line('    w.uvarint(taggedCount);');
    for (const f of taggedFields) {
      out.line(`    if (${f.property}Tagged !== null) {`);
      out.line(`      w.uvarint(${f.tag});`);
      out.line(`      w.uvarint(${f.property}Tagged.length);`);
      out.line(`      w.raw(${f.property}Tagged);`);
      out.line('    }');
    }
  }
  out.line('  }');
  out.line('}');
  out.line();
}

// ---------------------------------------------------------------------------------------------
// Files

const HEADER = `// Generated by scripts/generate-protocol.ts from Kafka's JSON message schemas (src/protocol/schemas,
// Apache-2.0). Do not edit: change the generator and run \`npm run generate\`.
/* eslint-disable */`;

export interface ApiPair {
  name: string; // e.g. Fetch
  apiKey: number;
  request: Message;
  response: Message;
  file: string; // module file name without extension
  unstableMax: boolean;
}

function typePrefixer(messageName: string, collisions: Set<string>): (name: string) => string {
  return (name) => (collisions.has(name) ? `${messageName}${name}` : name);
}

function structNames(raw: RawMessage): Set<string> {
  const names = new Set<string>();
  const walk = (fields: RawField[]) => {
    for (const f of fields) {
      const element = f.type.startsWith('[]') ? f.type.slice(2) : f.type;
      if (!PRIMITIVES.has(element)) names.add(element);
      if (f.fields) walk(f.fields);
    }
  };
  walk(raw.fields);
  for (const s of raw.commonStructs ?? []) {
    names.add(s.name);
    walk(s.fields);
  }
  return names;
}

function rangeText(range: VersionRange): string {
  return isEmpty(range)
    ? '{ min: 1, max: 0 }'
    : `{ min: ${range.min}, max: ${range.max === Infinity ? 'Infinity' : range.max} }`;
}

function emitCodecExports(out: Emitter, message: Message, kind: 'Request' | 'Response' | '', exportName: string): void {
  const name = message.root.typeName;
  const fn = kind || 'Message';
  out.line(`/** Versions of ${name} this module can read and write. */`);
  out.line(`export const ${camel(exportName)}Versions = ${rangeText(message.valid)};`);
  out.line(`export const ${camel(exportName)}FlexibleVersions = ${rangeText(message.flexible)};`);
  out.line();
  out.line(`export function isFlexible${fn}(version: number): boolean {`);
  out.line(
    `  return version >= ${message.flexible.min} && version <= ${message.flexible.max === Infinity ? 'Infinity' : message.flexible.max};`,
  );
  out.line('}');
  out.line();
  out.line(`/** Encodes a ${name} body (no size prefix, no header) in the given version. */`);
  out.line(`export function encode${fn}(version: number, value: ${name}Input, w = new ByteWriter()): ByteWriter {`);
  out.line(
    `  if (!(version >= ${message.valid.min} && version <= ${message.valid.max})) throw new EncodeError(API, version, '', 'unsupported version of ${name}');`,
  );
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
    `export function decode${fn}(version: number, buffer: Buffer, offset = 0, end = buffer.length, options: DecodeOptions = {}): ${name} {`,
  );
  out.line(`  const r = new ByteReader(buffer, offset, end, ${JSON.stringify(name)}, version);`);
  out.line(
    `  if (!(version >= ${message.valid.min} && version <= ${message.valid.max})) r.fail('', 'unsupported version of ${name}');`,
  );
  out.line(`  const value = read${name}(r, version, isFlexible${fn}(version));`);
  out.line(
    `  if (r.remaining !== 0 && options.allowTrailingBytes !== true) r.fail('', r.remaining + ' unexpected bytes after the message');`,
  );
  out.line('  return value;');
  out.line('}');
  out.line();
}

function importsFor(): string {
  return [
    `import { ByteReader } from '../primitives/byte-reader.js';`,
    `import { ByteWriter } from '../primitives/byte-writer.js';`,
    `import { EncodeError } from '../errors.js';`,
    `import { EMPTY_BYTES, ZERO_UUID, readArray, readNullableArray, type DecodeOptions } from '../primitives/helpers.js';`,
  ].join('\n');
}

function renderApiModule(api: ApiPair): string {
  const out = new Emitter();
  out.line(HEADER);
  out.line(
    `// ${api.name}: API key ${api.apiKey}, request versions ${api.request.raw.validVersions} (flexible ${api.request.raw.flexibleVersions}).`,
  );
  out.line(importsFor());
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
  return (
    out
      .text()
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}

function renderStandalone(message: Message): string {
  const out = new Emitter();
  out.line(HEADER);
  out.line(
    `// ${message.raw.name} (${message.raw.type}), versions ${message.raw.validVersions} (flexible ${message.raw.flexibleVersions}).`,
  );
  out.line(importsFor());
  out.line();
  out.line(`const API = ${JSON.stringify(message.raw.name)};`);
  out.line();
  emitMessage(out, message);
  emitCodecExports(out, message, '', 'message');
  return (
    out
      .text()
      .replace(/\n{3,}/g, '\n\n')
      .trimEnd() + '\n'
  );
}

function renderIndex(apis: ApiPair[], standalone: Array<{ message: Message; file: string }>): string {
  const out = new Emitter();
  out.line(HEADER);
  out.line(`import type { ByteWriter } from '../primitives/byte-writer.js';`);
  out.line(`import type { DecodeOptions } from '../primitives/helpers.js';`);
  for (const api of apis) out.line(`import * as ${camel(api.name)} from './${api.file}.js';`);
  for (const s of standalone) out.line(`import * as ${camel(s.message.raw.name)} from './${s.file}.js';`);
  out.line();
  out.line(
    `export { ${[...apis.map((a) => camel(a.name)), ...standalone.map((s) => camel(s.message.raw.name))].join(', ')} };`,
  );
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
  for (const api of [...apis].sort((a, b) => a.apiKey - b.apiKey)) out.line(`  [${api.apiKey}, ${camel(api.name)}],`);
  out.line(']);');
  out.line();
  out.line('/** API keys by name. */');
  out.line('export const ApiKey = {');
  for (const api of [...apis].sort((a, b) => a.apiKey - b.apiKey)) out.line(`  ${api.name}: ${api.apiKey},`);
  out.line('} as const;');
  return out.text().trimEnd() + '\n';
}

/** The schemas of `schemaDir`, resolved: request/response pairs by API, and standalone messages (headers, data). */
export function loadSchemas(schemaDir: string): {
  apis: ApiPair[];
  standalone: Array<{ message: Message; file: string }>;
} {
  const paths = [
    ...readdirSync(schemaDir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(schemaDir, f)),
    ...readdirSync(join(schemaDir, 'share-groups'))
      .filter((f) => f.endsWith('.json'))
      .map((f) => join(schemaDir, 'share-groups', f)),
  ].sort((a, b) => basename(a).localeCompare(basename(b)));

  const raws = paths.map((p) => ({ raw: readSchema(p), path: p }));
  const requests = new Map<string, RawMessage>();
  const responses = new Map<string, RawMessage>();
  const standaloneRaw: RawMessage[] = [];
  for (const { raw } of raws) {
    if (raw.type === 'request') requests.set(raw.name.replace(/Request$/, ''), raw);
    else if (raw.type === 'response') responses.set(raw.name.replace(/Response$/, ''), raw);
    else standaloneRaw.push(raw);
  }

  const apis: ApiPair[] = [];
  for (const [name, requestRaw] of [...requests].sort(([a], [b]) => a.localeCompare(b))) {
    const responseRaw = responses.get(name);
    if (!responseRaw) throw new Error(`${name}: request schema without a response schema`);
    const requestNames = structNames(requestRaw);
    const responseNames = structNames(responseRaw);
    const collisions = new Set([...requestNames].filter((n) => responseNames.has(n)));
    const file = kebab(name);
    const request = resolveMessage(requestRaw, file, typePrefixer(requestRaw.name, collisions));
    const response = resolveMessage(responseRaw, file, typePrefixer(responseRaw.name, collisions));
    apis.push({
      name,
      apiKey: requestRaw.apiKey!,
      request,
      response,
      file,
      unstableMax: requestRaw.latestVersionUnstable === true,
    });
  }

  const standalone = standaloneRaw
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((raw) => {
      const file = kebab(raw.name);
      return { message: resolveMessage(raw, file, (n) => n), file };
    });
  return { apis, standalone };
}

/** Generates every file of src/protocol/generated/ from the schemas in `schemaDir`. */
export function generateProtocol(schemaDir: string, errorCodesTsv: string): Map<string, string> {
  const files = new Map<string, string>();
  const { apis, standalone } = loadSchemas(schemaDir);
  for (const api of apis) files.set(`${api.file}.ts`, renderApiModule(api));
  for (const s of standalone) files.set(`${s.file}.ts`, renderStandalone(s.message));
  files.set('index.ts', renderIndex(apis, standalone));
  files.set('error-codes.ts', renderErrorCodes(errorCodesTsv));
  return files;
}

export const repositoryRoot = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  ...(basename(dirname(dirname(fileURLToPath(import.meta.url)))) === 'dist' ? ['..'] : []),
);

export function defaultPaths(): { schemaDir: string; errorCodes: string; outputDir: string } {
  return {
    schemaDir: join(repositoryRoot, 'src', 'protocol', 'schemas'),
    errorCodes: join(repositoryRoot, 'scripts', 'kafka-error-codes.tsv'),
    outputDir: join(repositoryRoot, 'src', 'protocol', 'generated'),
  };
}

function main(): void {
  const paths = defaultPaths();
  const files = generateProtocol(paths.schemaDir, readFileSync(paths.errorCodes, 'utf8'));
  rmSync(paths.outputDir, { recursive: true, force: true });
  mkdirSync(paths.outputDir, { recursive: true });
  for (const [name, text] of files) writeFileSync(join(paths.outputDir, name), text);
  console.log(`wrote ${files.size} files to ${paths.outputDir}`);
}

if (
  process.argv[1] &&
  resolve(process.argv[1]).replace(/\.(ts|js)$/, '') === fileURLToPath(import.meta.url).replace(/\.(ts|js)$/, '')
) {
  main();
}
