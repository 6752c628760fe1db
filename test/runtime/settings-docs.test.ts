// The settings tables of README.md and docs/configuration.md, and `sluice start --help`, say what the
// registry says: this fails when someone edits a default in one place and not the other.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startHelp } from '../../src/cli/help.js';
import {
  generatedRegions,
  mainSettingsTable,
  renderGeneratedRegions,
  topicSettingsTable,
} from '../../src/runtime/settings-docs.js';
import { settings } from '../../src/runtime/settings.js';
import { repositoryRoot } from '../../scripts/generate-protocol.js';
import { settingsDocFiles } from '../../scripts/settings-docs.js';

test('README.md and docs/configuration.md hold the tables the registry renders (npm run docs:settings)', () => {
  const found = new Set<string>();
  for (const file of settingsDocFiles) {
    const text = readFileSync(join(repositoryRoot, file), 'utf8');
    for (const id of Object.keys(generatedRegions)) if (text.includes(`<!-- generated: ${id}`)) found.add(id);
    assert.ok(
      renderGeneratedRegions(text) === text,
      `${file} differs from the settings registry: run \`npm run docs:settings\``,
    );
  }
  assert.deepEqual([...found].sort(), Object.keys(generatedRegions).sort(), 'every table has its place');
});

test('a changed default shows as a difference, and rendering twice changes nothing', () => {
  const text = `before\n<!-- generated: settings-main (x) -->\n| stale |\n<!-- end: settings-main -->\nafter\n`;
  const rendered = renderGeneratedRegions(text);
  assert.notEqual(rendered, text);
  assert.equal(renderGeneratedRegions(rendered), rendered);
  assert.ok(rendered.startsWith('before\n') && rendered.endsWith('\nafter\n'));
  assert.ok(rendered.includes(mainSettingsTable()));
});

test('the docs mark each topic config Sluice does not act on, and --help lists the main settings', () => {
  const table = topicSettingsTable();
  for (const s of settings.filter((entry) => entry.scope === 'topic')) {
    const row = table.split('\n').find((line) => line.startsWith(`| \`${s.name}\` |`));
    assert.ok(row, s.name);
    assert.equal(row.includes('| accepted, not acted on yet |'), s.effect === 'inert', s.name);
  }
  for (const s of settings.filter((entry) => entry.main !== undefined)) {
    assert.ok(startHelp.includes(`  ${s.brokerName ?? s.name}=${s.defaultValue ?? ''}`), s.name);
  }
  for (const line of startHelp.split('\n')) assert.ok(line.length <= 120, line);
});
