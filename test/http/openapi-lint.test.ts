import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createConfig, lint, type NormalizedProblem } from '@redocly/openapi-core';
import { OPENAPI_FILE } from '../helpers/openapi.js';

const describeProblem = (p: NormalizedProblem): string =>
  `${p.severity} ${p.ruleId}: ${p.message} at ${p.location.map((l) => l.pointer ?? '').join(', ')}`;

describe('openapi.yaml under a real linter', () => {
  test("Redocly's recommended ruleset reports no error and no warning", async () => {
    // The config is given inline so that no redocly.yaml can relax the ruleset unnoticed.
    const config = await createConfig({ extends: ['recommended'] });
    const problems = await lint({ ref: OPENAPI_FILE, config });
    assert.deepEqual(problems.map(describeProblem), []);
  });
});
