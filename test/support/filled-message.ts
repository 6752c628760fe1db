// Builds a request (or response) body of any API and version with every field its version has
// filled in and one element in every array, from the resolved Kafka schemas — so a test can check a
// piece of code against every shape an API can take without writing 40 bodies by hand.
import { defaultPaths, loadSchemas, type Field, type Struct } from '../../scripts/generate-protocol.js';

const { apis } = loadSchemas(defaultPaths().schemaDir);

function inRange(range: { min: number; max: number }, version: number): boolean {
  return version >= range.min && version <= range.max;
}

function primitive(type: string): unknown {
  switch (type) {
    case 'int8':
    case 'int16':
    case 'int32':
    case 'uint16':
      return 1;
    case 'int64':
      return 1n;
    case 'float64':
      return 0.5;
    case 'bool':
      return false;
    case 'string':
      return 'x';
    case 'uuid':
      return Buffer.alloc(16, 1);
    case 'bytes':
      return Buffer.alloc(0);
    case 'records':
      return null;
    default:
      throw new Error(`no filler for type ${type}`);
  }
}

function fillStruct(struct: Struct, version: number): Record<string, unknown> {
  const value: Record<string, unknown> = {};
  for (const field of struct.fields)
    if (inRange(field.versions, version)) value[field.property] = fillField(field, version);
  return value;
}

function fillField(field: Field, version: number): unknown {
  const element = () => (field.struct ? fillStruct(field.struct, version) : primitive(field.elementType));
  return field.isArray ? [element()] : element();
}

/** A request body of `apiKey` at `version` with every field set and one element per array. */
export function filledRequest(apiKey: number, version: number): Record<string, unknown> {
  const api = apis.find((candidate) => candidate.apiKey === apiKey);
  if (!api) throw new Error(`no schema for API key ${apiKey}`);
  return fillStruct(api.request.root, version);
}
