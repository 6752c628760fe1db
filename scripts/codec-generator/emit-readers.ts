// Emits the reader of each struct of a message: `read<Struct>(r, version, flexible)`, branching on
// the version at run time. Arrays are read through readArray/readNullableArray with the smallest
// size one element can have, so a hostile element count fails before anything is allocated. In
// flexible versions the struct ends with a tagged-field section; unknown tags are skipped.
import type { Emitter } from './emitter.js';
import type { Field, Message, Struct } from './schema-model.js';
import { choose, compactExpression, defaultExpression, pathOf, primitiveMethod, tsType } from './typescript-values.js';
import { intersect, isEmpty, rangeCondition, type VersionRange } from './version-range.js';

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

/** An expression reading one value of `field` (one element of it when `element`). */
function emitReadValue(field: Field, message: Message, path: string, compactExpr: string, element: boolean): string {
  const nullableExpr = element ? 'false' : null;
  if (!element && field.isArray) {
    const min = elementMinimumBytes(field, message);
    const nullable = !isEmpty(field.nullable) ? rangeCondition(field.nullable, field.versions) : 'false';
    const readElement = `() => ${emitReadValue(field, message, path + '[]', compactExpr, true)}`;
    if (nullable === 'false') return `readArray(r, ${compactExpr}, ${JSON.stringify(path)}, ${min}, ${readElement})`;
    return `readNullableArray(r, ${compactExpr}, ${JSON.stringify(path)}, ${min}, ${nullable}, ${readElement})`;
  }
  if (field.struct) {
    const readStruct = `read${field.struct.typeName}(r, version, flexible)`;
    if (!element && !isEmpty(field.nullable)) {
      const isNull = `r.int8(${JSON.stringify(path)}) < 0 && (${rangeCondition(field.nullable, field.versions)})`;
      return `(${isNull} ? null : ${readStruct})`;
    }
    return readStruct;
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

export function emitReader(out: Emitter, message: Message, struct: Struct, possible: VersionRange): void {
  const isRoot = struct === message.root;
  out.line(
    `${isRoot ? 'export ' : ''}function read${struct.typeName}` +
      `(r: ByteReader, version: number, flexible: boolean): ${struct.typeName} {`,
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
  const countPath = isRoot ? '<tagged fields>' : `${struct.typeName}.<tagged fields>`;
  out.line('  if (flexible) {');
  out.line(`    const count = r.uvarint(${JSON.stringify(countPath)});`);
  out.line('    for (let i = 0; i < count; i++) {');
  out.line(`      const tag = r.uvarint('<tag>');`);
  out.line(`      const size = r.uvarint('<tag size>');`);
  out.line('      const end = r.offset + size;');
  out.line(
    `      if (size > r.remaining) r.fail('<tagged field ' + tag + '>', ` +
      `'tagged field of ' + size + ' bytes, ' + r.remaining + ' left');`,
  );
  if (tagged.length > 0) {
    out.line('      switch (tag) {');
    for (const f of tagged) {
      const path = pathOf(struct, message, f);
      const inVersion = rangeCondition(intersect(f.tagged, f.versions), structPossible);
      out.line(`        case ${f.tag}:`);
      out.line(`          if (${inVersion}) ${f.property} = ${emitReadValue(f, message, path, 'true', false)};`);
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
