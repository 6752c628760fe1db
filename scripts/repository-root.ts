// The repository's root folder, for the scripts and tests that read or write files in it. This
// file sits in scripts/, so the root is one folder up — two when it runs compiled from dist/scripts/.
import { basename, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const scriptsDir = dirname(fileURLToPath(import.meta.url));

export const repositoryRoot = resolve(scriptsDir, '..', ...(basename(dirname(scriptsDir)) === 'dist' ? ['..'] : []));
