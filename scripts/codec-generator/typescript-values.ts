// How one schema field looks in the generated TypeScript, shared by the type, reader and writer
// emitters: its TypeScript type, its default value as an expression, the primitive codec method
// that reads or writes it, and whether it uses the compact (flexible-version) encodings.
import type { Field, Message, Struct } from './schema-model.js';
import { isEmpty, rangeCondition } from './version-range.js';

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

/** The TypeScript type of a field: of what decode returns, or (`input`) of what encode accepts. */
export function tsType(field: Field, input: boolean): string {
  const element = tsElementType(field, input);
  let type = field.isArray ? `${element}[]` : element;
  if (!isEmpty(field.nullable)) type += ' | null';
  return type;
}

/** The default value of a field as a TypeScript expression. */
export function defaultExpression(field: Field): string {
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

/** The ByteReader/ByteWriter method for a primitive type in the compact or classic encoding. */
export function primitiveMethod(elementType: string, compact: boolean, nullable: boolean): string {
  switch (elementType) {
    case 'string':
      if (compact) return nullable ? 'compactNullableString' : 'compactString';
      return nullable ? 'nullableString' : 'string';
    case 'bytes':
    case 'records':
      if (compact) return nullable ? 'compactNullableBytes' : 'compactBytes';
      return nullable ? 'nullableBytes' : 'bytes';
    default:
      return elementType;
  }
}

/** `cond ? a : b`, folded when the condition is a literal. */
export function choose(condition: string, whenTrue: string, whenFalse: string): string {
  if (condition === 'true') return whenTrue;
  if (condition === 'false') return whenFalse;
  return `(${condition} ? ${whenTrue} : ${whenFalse})`;
}

/** When a field uses the compact encodings: in flexible versions, unless the field overrides them. */
export function compactExpression(field: Field): string {
  if (field.flexibleOverride)
    return isEmpty(field.flexibleOverride)
      ? 'false'
      : `(flexible && ${rangeCondition(field.flexibleOverride, { min: 0, max: Infinity })})`;
  return 'flexible';
}

/** The field's path in error messages: `name` on the root struct, `Struct.name` below it. */
export function pathOf(struct: Struct, message: Message, field: Field): string {
  return struct === message.root ? field.property : `${struct.typeName}.${field.property}`;
}
