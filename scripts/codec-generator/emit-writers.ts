// Emits the writer of each struct of a message: `write<Struct>(w, version, flexible, value)`. A field
// the version does not have is dropped when it holds its default (or is ignorable) and refused with
// an EncodeError otherwise, as Kafka's generated Java does; in flexible versions the tagged fields
// that differ from their defaults are written, in tag order, after the regular ones.
import type { Emitter } from './emitter.js';
import type { Field, Message, Struct } from './schema-model.js';
import { compactExpression, defaultExpression, pathOf, primitiveMethod, tsType } from './typescript-values.js';
import { intersect, isEmpty, rangeCondition, type VersionRange } from './version-range.js';

/** The statement that refuses a null where the version does not allow one. */
function notNullable(path: string): string {
  return `throw new EncodeError(API, version, ${path}, 'null where not nullable');`;
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
          ? `${indent}  ${notNullable(p)}`
          : `${indent}  if (!(${nullable})) ${notNullable(p)}`,
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
        `${indent}  if (!(${rangeCondition(field.nullable, field.versions)})) ${notNullable(p)}`,
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
      if (nullable !== 'true') lines.push(`${indent}if (${valueExpr} === null && !(${nullable})) ${notNullable(p)}`);
    } else if (!element) {
      lines.push(`${indent}if (${valueExpr} === null) ${notNullable(p)}`);
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

/** A condition true when the value equals the field's default (so it may be dropped silently). */
function isDefaultCheck(field: Field, valueExpr: string): string {
  const def = defaultExpression(field);
  if (field.isArray)
    return def === 'null' ? `${valueExpr} === null` : `(${valueExpr} !== null && ${valueExpr}.length === 0)`;
  if (field.struct) return def === 'null' ? `${valueExpr} === null` : 'true';
  if (def === 'EMPTY_BYTES') return `(${valueExpr} !== null && ${valueExpr}.length === 0)`;
  if (def === 'ZERO_UUID') return `ZERO_UUID.equals(${valueExpr})`;
  return `${valueExpr} === ${def}`;
}

export function emitWriter(out: Emitter, message: Message, struct: Struct, possible: VersionRange): void {
  const isRoot = struct === message.root;
  out.line(
    `${isRoot ? 'export ' : ''}function write${struct.typeName}` +
      `(w: ByteWriter, version: number, flexible: boolean, value: ${struct.typeName}Input): void {`,
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
          `    throw new EncodeError(API, version, ${JSON.stringify(path)}, ` +
            `'field is not supported in this version and is not ignorable');`,
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
