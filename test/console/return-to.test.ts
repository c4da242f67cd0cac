import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CONSOLE_HOME, returnTo, withReturn } from '../../src/console/return-to.js';

describe('where a sign-in returns to', () => {
  test('a page of this console, with its query and fragment', () => {
    for (const to of ['/console/recordings', '/console/recordings/5b0c1c1e-3f0e-4d7e-9c61-2f1b8f0c9a10#t=1:30', '/console/recordings?from=2026-11-01&tag=vip', '/console/audit?action=media.read#x']) {
      assert.equal(returnTo(to), to);
    }
  });

  test('anything else goes to the console home: other sites, other paths, escapes, sign-in pages, non-strings', () => {
    const refused: unknown[] = [
      'https://evil.example/console/', '//evil.example/console/', '/console//evil.example', '/\\evil.example', '/console/\\evil',
      '/console/../v1/recordings', '/console/%2e%2e/v1', '/console/%2F%2Fevil', '/consolex', '/console', 'javascript:alert(1)',
      '/console/recordings"><script>', '/console/ x', '/console/sign-in', '/console/oidc/start?return=/console/x', '/console/signed-out',
      `/console/${'a'.repeat(1100)}`, '', undefined, null, 42, ['/console/recordings'],
    ];
    for (const value of refused) assert.equal(returnTo(value), CONSOLE_HOME, String(value));
  });

  test('the return target travels as a query parameter, and not at all for the home page', () => {
    assert.equal(withReturn('/console/sign-in', '/console/recordings?q=a#t=9'), '/console/sign-in?return=%2Fconsole%2Frecordings%3Fq%3Da%23t%3D9');
    assert.equal(withReturn('/console/sign-in', CONSOLE_HOME), '/console/sign-in');
  });
});
