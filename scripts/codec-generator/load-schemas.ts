// Reads Kafka's JSON message schemas from disk and resolves them into the schema model: pairs each
// request with its response by API, parses every version string, and names the struct types —
// prefixing a struct name with its message's name when the request and the response of one API
// both define a struct of that name (both land in one module).
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import {
  camel,
  kebab,
  PRIMITIVES,
  type ApiPair,
  type Field,
  type Message,
  type RawField,
  type RawMessage,
  type StandaloneMessage,
  type Struct,
} from './schema-model.js';
import { intersect, parseRange, type VersionRange } from './version-range.js';

/** Kafka's schema files are JSON with `//` comment lines. */
function readSchema(path: string): RawMessage {
  const text = readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => !line.trim().startsWith('//'))
    .join('\n');
  return JSON.parse(text) as RawMessage;
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

/**
 * The schemas of `schemaDir`, resolved: request/response pairs by API, and standalone messages
 * (headers, data).
 */
export function loadSchemas(schemaDir: string): { apis: ApiPair[]; standalone: StandaloneMessage[] } {
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
