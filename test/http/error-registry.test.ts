import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { AppError, ERRORS, NotFoundError, titleOf, type ErrorCode } from '../../src/errors.js';

const openapi = parse(readFileSync(path.resolve(import.meta.dirname, '../../openapi.yaml'), 'utf8')) as {
  components: { responses: Record<string, { description: string }> };
};

test('every registered code fits the contract pattern and its status has a title', () => {
  for (const [code, spec] of Object.entries(ERRORS)) {
    assert.match(code, /^[a-z0-9_]+$/);
    assert.notEqual(titleOf(spec.status), 'Error', `${code}: status ${spec.status} has no title`);
    assert.ok(spec.message.length > 0);
  }
});

test('codes the contract names for a response are registered with that response\'s status', () => {
  const documented: ReadonlyArray<readonly [string, number]> = [['BadRequest', 400], ['LinkDenied', 403], ['NotFound', 404], ['Conflict', 409], ['TooManyRequests', 429]];
  for (const [response, status] of documented) {
    const text = openapi.components.responses[response]?.description ?? '';
    // snake_case words, not parts of dotted names such as anomaly.download_rate (an audit action)
    const codes = [...text.matchAll(/(?<![.\w])[a-z]+(?:_[a-z0-9]+)+\b(?!\.)/g)].map((m) => m[0]);
    assert.ok(codes.length > 0, `${response} names no code`);
    assert.deepEqual(codes.filter((c) => !(c in ERRORS)), [], `${response} names unregistered codes`);
    for (const code of codes) assert.equal(ERRORS[code as ErrorCode].status, status, `${code} in ${response}`);
  }
});

test('an error takes its status from its code', () => {
  const err = new AppError('link_expired');
  assert.deepEqual([err.status, err.code, err.message], [403, 'link_expired', ERRORS.link_expired.message]);
  assert.equal(new NotFoundError('No such recording').code, 'not_found');
});
