// The schema model the codec generator works on: Kafka's JSON message schemas as read (Raw*), and
// the same resolved (Field, Struct, Message, ApiPair) — version strings parsed into ranges, struct
// types found and named, so the emitters never look at the JSON again. Also the naming rules shared
// by the loader and the emitters (camelCase properties, kebab-case file names).
import type { VersionRange } from './version-range.js';

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

/** The schema types that are not structs. */
export const PRIMITIVES = new Set([
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

export interface ApiPair {
  name: string; // e.g. Fetch
  apiKey: number;
  request: Message;
  response: Message;
  file: string; // module file name without extension
  unstableMax: boolean;
}

/** A standalone message (a header or an embedded "data" schema) and its module file name. */
export interface StandaloneMessage {
  message: Message;
  file: string;
}

export function camel(name: string): string {
  return name.charAt(0).toLowerCase() + name.slice(1);
}

export function kebab(name: string): string {
  return name.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}
