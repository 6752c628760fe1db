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
//
// This file is the command and the generator's public face; the work is done in codec-generator/:
//   version-range.ts   "0-3" / "4+" / "none" and the version conditions the codecs test
//   schema-model.ts    the raw and the resolved schema model, naming rules
//   load-schemas.ts    schema files → resolved model (request/response pairs, struct names)
//   typescript-values.ts  a field's TypeScript type, default, codec method
//   emit-types.ts, emit-readers.ts, emit-writers.ts  per struct: interfaces, reader, writer
//   render-module.ts   one module per API / standalone message; render-index.ts  index.ts
//   generate.ts        schemas in, every generated file out (error-codes.ts via generate-error-codes.ts)
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateProtocol } from './codec-generator/generate.js';
import { repositoryRoot } from './repository-root.js';

export { generateProtocol } from './codec-generator/generate.js';
export { loadSchemas } from './codec-generator/load-schemas.js';
export type {
  ApiPair,
  Field,
  Message,
  RawField,
  RawMessage,
  StandaloneMessage,
  Struct,
} from './codec-generator/schema-model.js';
export type { VersionRange } from './codec-generator/version-range.js';
export { repositoryRoot } from './repository-root.js';

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
