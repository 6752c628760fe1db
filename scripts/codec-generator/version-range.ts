// Version ranges of Kafka's JSON schemas ("0-3", "4+", "none") and the TypeScript conditions the
// generated codecs test them with. Every other part of the generator reasons about versions through
// these few functions, so an empty range or an open end means the same thing everywhere.

export interface VersionRange {
  min: number;
  max: number; // Infinity for "N+"; min > max for "none"
}

export function parseRange(text: string | undefined, what: string): VersionRange {
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

export function isEmpty(range: VersionRange): boolean {
  return range.min > range.max;
}

export function intersect(a: VersionRange, b: VersionRange): VersionRange {
  return { min: Math.max(a.min, b.min), max: Math.min(a.max, b.max) };
}

/** A TypeScript condition "version is in range", simplified against the versions that can occur. */
export function rangeCondition(range: VersionRange, possible: VersionRange, variable = 'version'): string {
  const r = intersect(range, possible);
  if (isEmpty(r)) return 'false';
  const parts: string[] = [];
  if (r.min > possible.min) parts.push(`${variable} >= ${r.min}`);
  if (r.max < possible.max) parts.push(`${variable} <= ${r.max}`);
  return parts.length === 0 ? 'true' : parts.join(' && ');
}

/** A range as a TypeScript object literal, as the generated modules export it. */
export function rangeText(range: VersionRange): string {
  return isEmpty(range)
    ? '{ min: 1, max: 0 }'
    : `{ min: ${range.min}, max: ${range.max === Infinity ? 'Infinity' : range.max} }`;
}
