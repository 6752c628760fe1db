// What the registry says, as people read it: the Markdown tables of README.md ("main settings") and
// docs/configuration.md (every broker and topic setting), and the settings lines of `sluice start
// --help`. `npm run docs:settings` (scripts/settings-docs.ts) rewrites the generated regions of the
// two files; test/runtime/settings-docs.test.ts fails when they differ from what this renders.
import type { SettingDefinition } from './setting-types.js';
import { settings } from './settings.js';

/** The main settings, in their order. */
function mainSettings(): SettingDefinition[] {
  return settings.filter((definition) => definition.main !== undefined).sort((a, b) => a.main! - b.main!);
}

/** The name an operator sets at start: the broker name (a topic setting's broker default). */
function startName(definition: SettingDefinition): string {
  return definition.brokerName ?? definition.name;
}

const units: Array<[number, string]> = [
  [24 * 60 * 60 * 1000, 'day'],
  [60 * 60 * 1000, 'hour'],
  [60 * 1000, 'minute'],
  [1000, 'second'],
];

/** `604800000` → `604800000` (7 days); `1073741824` → (1 GiB): the default as Kafka writes it, and
 *  in words when it is a whole number of a larger unit. */
function defaultText(definition: SettingDefinition): string {
  const value = definition.defaultValue;
  if (value === null) return '—';
  if (value === '') return '(empty)';
  const shown = `\`${value}\``;
  const number = Number(value);
  if (!/^\d+$/.test(value) || number === 0 || !Number.isSafeInteger(number)) return shown;
  if (definition.name.endsWith('.ms')) {
    const unit = units.find(([size]) => number >= size && number % size === 0);
    if (unit) return `${shown} (${number / unit[0]} ${unit[1]}${number / unit[0] === 1 ? '' : 's'})`;
  }
  if (definition.name.endsWith('.bytes')) {
    for (const [size, name] of [
      [2 ** 30, 'GiB'],
      [2 ** 20, 'MiB'],
      [2 ** 10, 'KiB'],
    ] as const) {
      if (number >= size && number % size === 0) return `${shown} (${number / size} ${name})`;
    }
  }
  return shown;
}

/** The valid values as the documentation shows them: `[1, …]`, `-1 or [1, 9]`, `a, b`, … */
export function validValuesText(definition: SettingDefinition): string {
  if (definition.validText !== undefined) return definition.validText;
  const { min, max, special, allowed, type } = definition;
  let text: string;
  if (type === 'BOOLEAN') text = '`true`, `false`';
  else if (allowed !== undefined)
    text = (type === 'LIST' ? 'a list of ' : '') + allowed.map((value) => `\`${value}\``).join(', ');
  else if (min !== undefined || max !== undefined) text = `[${min ?? '…'}, ${max ?? '…'}]`;
  else text = type === 'STRING' ? 'any' : `any ${type.toLowerCase()}`;
  return special ? `${special.map((value) => `\`${value}\``).join(', ')} or ${text}` : text;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|');
}

function effectText(definition: SettingDefinition): string {
  return definition.effect === 'acted' ? 'acts on it' : 'accepted, not acted on yet';
}

/** README.md: the settings most operators touch, with their defaults. */
export function mainSettingsTable(): string {
  const rows = mainSettings().map((definition) => {
    const perTopic = definition.scope === 'topic' ? ` (per topic: \`${definition.name}\`)` : '';
    return `| \`${startName(definition)}\`${perTopic} | ${defaultText(definition)} | ${cell(definition.doc)} |`;
  });
  return ['| setting | default | meaning |', '|---|---|---|', ...rows].join('\n');
}

/** docs/configuration.md: every broker setting. */
export function brokerSettingsTable(): string {
  const rows = settings
    .filter((definition) => definition.scope === 'broker')
    .map(
      (definition) =>
        `| \`${definition.name}\` | ${definition.type.toLowerCase()} | ${defaultText(definition)} | ` +
        `${cell(validValuesText(definition))} | ${effectText(definition)} | ${cell(definition.doc)} |`,
    );
  return ['| setting | type | default | valid values | Sluice | meaning |', '|---|---|---|---|---|---|', ...rows].join(
    '\n',
  );
}

/** docs/configuration.md: every topic config, with the broker setting that supplies its default. */
export function topicSettingsTable(): string {
  const rows = settings
    .filter((definition) => definition.scope === 'topic')
    .map((definition) => {
      const broker = [definition.brokerName, ...(definition.synonyms ?? []).map((s) => s.name)]
        .filter((name) => name !== null)
        .map((name) => `\`${name}\``)
        .join(', ');
      return (
        `| \`${definition.name}\` | ${broker || '—'} | ${definition.type.toLowerCase()} | ` +
        `${defaultText(definition)} | ${cell(validValuesText(definition))} | ${effectText(definition)} | ` +
        `${cell(definition.doc)} |`
      );
    });
  return [
    '| topic config | broker setting | type | default | valid values | Sluice | meaning |',
    '|---|---|---|---|---|---|---|',
    ...rows,
  ].join('\n');
}

/** Splits `text` into lines of at most `width` columns at spaces. */
function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line === '' ? word : `${line} ${word}`;
  }
  if (line !== '') lines.push(line);
  return lines;
}

/** `sluice start --help`: `name=default` in a column `leftWidth` wide, then the doc line wrapped to
 *  `totalWidth` columns, each continuation under the doc. */
export function helpSettingLines(leftWidth: number, totalWidth: number): string {
  const indent = ' '.repeat(2 + leftWidth);
  const lines: string[] = [];
  for (const definition of mainSettings()) {
    const left = `${startName(definition)}=${definition.defaultValue ?? ''}`;
    const doc = wrap(definition.doc, totalWidth - indent.length);
    if (left.length < leftWidth) lines.push(`  ${left.padEnd(leftWidth)}${doc.shift() ?? ''}`);
    else lines.push(`  ${left}`);
    for (const line of doc) lines.push(`${indent}${line}`);
  }
  return lines.join('\n');
}

/** The generated regions: `<!-- generated: <id> … -->` up to `<!-- end: <id> -->` in README.md and docs. */
export const generatedRegions: Record<string, () => string> = {
  'settings-main': mainSettingsTable,
  'settings-broker': brokerSettingsTable,
  'settings-topic': topicSettingsTable,
};

/** `text` with every generated region it holds replaced by what the registry renders now. */
export function renderGeneratedRegions(text: string): string {
  let result = text;
  for (const [id, render] of Object.entries(generatedRegions)) {
    const pattern = new RegExp(`(<!-- generated: ${id}[^>]*-->)[\\s\\S]*?(<!-- end: ${id} -->)`);
    result = result.replace(pattern, (_all, begin: string, end: string) => `${begin}\n${render()}\n${end}`);
  }
  return result;
}
