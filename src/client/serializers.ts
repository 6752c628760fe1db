// Typed key and value (de)serialisers. Null stays null and never reaches a serialiser: a null value
// is a tombstone, a null key means "no key" (and no key-based partitioning).

export type Serializer<T> = (value: T, topic: string) => Buffer;
export type Deserializer<T> = (data: Buffer, topic: string) => T;

export interface Serde<T> {
  serialize: Serializer<T>;
  deserialize: Deserializer<T>;
}

/** Bytes as they are (the default). Strings are accepted too and written as UTF-8. */
export const bufferSerde: Serde<Buffer> = {
  serialize: (value) => (Buffer.isBuffer(value) ? value : Buffer.from(value as unknown as string, 'utf8')),
  deserialize: (data) => data,
};

export const stringSerde: Serde<string> = {
  serialize: (value) => Buffer.from(value, 'utf8'),
  deserialize: (data) => data.toString('utf8'),
};

/** JSON in UTF-8. `T` is what the application puts in and gets out; it is not checked at runtime. */
export function jsonSerde<T>(): Serde<T> {
  return {
    serialize: (value) => Buffer.from(JSON.stringify(value), 'utf8'),
    deserialize: (data) => JSON.parse(data.toString('utf8')) as T,
  };
}
