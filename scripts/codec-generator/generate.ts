// The whole generator as one pure function: schemas in, the files of src/protocol/generated/ out
// (one module per API, per header and per "data" schema, index.ts, error-codes.ts). Writing them
// to disk is the command's job (scripts/generate-protocol.ts); test/tidy.test.ts compares this
// output with the committed files.
import { renderErrorCodes } from '../generate-error-codes.js';
import { loadSchemas } from './load-schemas.js';
import { renderIndex } from './render-index.js';
import { renderApiModule, renderStandalone } from './render-module.js';

/** Generates every file of src/protocol/generated/ (name → text) from the schemas in `schemaDir`. */
export function generateProtocol(schemaDir: string, errorCodesTsv: string): Map<string, string> {
  const files = new Map<string, string>();
  const { apis, standalone } = loadSchemas(schemaDir);
  for (const api of apis) files.set(`${api.file}.ts`, renderApiModule(api));
  for (const s of standalone) files.set(`${s.file}.ts`, renderStandalone(s.message));
  files.set('index.ts', renderIndex(apis, standalone));
  files.set('error-codes.ts', renderErrorCodes(errorCodesTsv));
  return files;
}
