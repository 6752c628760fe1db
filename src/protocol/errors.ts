// Errors raised by the wire codecs. A decode error is always the client's fault (bad bytes);
// an encode error is ours (we tried to send a value the chosen version cannot carry).

/** Bytes that do not parse as the named API and version. Carries where parsing stopped. */
export class DecodeError extends Error {
  override readonly name = 'DecodeError';
  constructor(
    readonly api: string,
    readonly version: number,
    readonly path: string,
    readonly reason: string,
    readonly position: number,
  ) {
    super(`cannot decode ${api} v${version} at ${path || '<root>'} (byte ${position}): ${reason}`);
  }
}

/** A value that the requested version cannot represent (e.g. a non-ignorable field set in a version without it). */
export class EncodeError extends Error {
  override readonly name = 'EncodeError';
  constructor(
    readonly api: string,
    readonly version: number,
    readonly path: string,
    readonly reason: string,
  ) {
    super(`cannot encode ${api} v${version} at ${path || '<root>'}: ${reason}`);
  }
}
