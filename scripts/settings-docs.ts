// `npm run docs:settings`: rewrites the generated settings tables of README.md and
// docs/configuration.md from the settings registry (src/runtime/settings-docs.ts renders them).
// test/runtime/settings-docs.test.ts fails while a file differs from what this would write.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { renderGeneratedRegions } from '../src/runtime/settings-docs.js';
import { repositoryRoot } from './generate-protocol.js';

/** The files holding generated settings tables, relative to the repository root. */
export const settingsDocFiles = ['README.md', join('docs', 'configuration.md')];

function main(): void {
  for (const file of settingsDocFiles) {
    const path = join(repositoryRoot, file);
    const before = readFileSync(path, 'utf8');
    const after = renderGeneratedRegions(before);
    if (after !== before) writeFileSync(path, after);
    console.log(`${file}: ${after === before ? 'up to date' : 'rewritten'}`);
  }
}

if (
  resolve(process.argv[1] ?? '').replace(/\.(ts|js)$/, '') === fileURLToPath(import.meta.url).replace(/\.(ts|js)$/, '')
) {
  main();
}
