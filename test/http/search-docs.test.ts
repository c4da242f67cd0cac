import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { filterFields } from '../../src/recordings/filter.js';
import { contract } from '../helpers/openapi.js';

const README = path.resolve(import.meta.dirname, '../../README.md');

/** The first column of the README table under "### Searching recordings". */
function readmeSearchParameters(): string[] {
  const text = readFileSync(README, 'utf8');
  const section = text.slice(text.indexOf('### Searching recordings'));
  const table = section.slice(section.indexOf('| parameter |'));
  const rows = table.split('\n').slice(2);
  const names: string[] = [];
  for (const row of rows) {
    const name = /^\| `([A-Za-z]+)` \|/.exec(row)?.[1];
    if (!name) break;
    names.push(name);
  }
  return names;
}

describe('search parameters are documented where they are served', () => {
  test('the README table, openapi.yaml and the parser name the same parameters', () => {
    const served = [...Object.keys(filterFields), 'limit', 'cursor'].sort();
    const op = contract().doc.paths['/v1/recordings']?.get as { parameters: Array<{ name: string; in: string }> };
    const documented = op.parameters.filter((p) => p.in === 'query').map((p) => p.name).sort();
    assert.deepEqual(documented, served, 'openapi.yaml GET /v1/recordings');
    assert.deepEqual(readmeSearchParameters().sort(), served, 'README "Searching recordings" table');
  });

  test('the bulk hold filter schema has the fields of the search filter', () => {
    const schema = contract().doc.components.schemas.RecordingFilter as { properties: Record<string, unknown> };
    assert.deepEqual(Object.keys(schema.properties).sort(), Object.keys(filterFields).sort());
  });
});
