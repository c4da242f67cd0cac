/** Governance bodies: ISO-8601 durations out of range, policy names, holds, erasure, keys, audit export. */
import type { HostileCase } from '../corpus.js';
import type { HostileVault } from '../vault.js';
import { jsonRequest } from './build.js';

export function durationCases(h: HostileVault): HostileCase[] {
  const policy = (name: string, body: string, policyName = 'hostile-policy', expect: HostileCase['expect'] = 400): HostileCase =>
    ({ name: `retention policy: ${name}`, request: jsonRequest('PUT', `/v1/retention-policies/${policyName}`, h.tokens.admin, body), expect });
  const retain = (value: string, code: string | null = 'invalid_retain'): HostileCase =>
    ({ ...policy(`retain ${JSON.stringify(value).slice(0, 40)}`, JSON.stringify({ retain: value })), ...(code ? { code } : {}) });
  return [
    retain('P99999Y'),
    retain('P9999Y'),
    retain('P101Y'),
    retain('P1000Y'),
    retain('PT0S'),
    retain('P0D'),
    retain('P0Y0M0D'),
    retain('P-1D'),
    retain('PT-1S'),
    retain('P'),
    retain('PT'),
    retain('90D'),
    retain('P90DT'),
    retain('P1.5D'),
    retain('P1,5D'),
    retain('p90d'),
    retain(' P90D'),
    retain('P90D '),
    retain('P1E3D'),
    retain('P\uff19\uff10D'),
    retain('PT99999999999S'),
    retain('PT9999999999S'),
    retain('P999999D'),
    retain('P36601D'),
    retain('P1M1Y'),
    retain('P1W1W'),
    retain('R5/P1D'),
    retain('2024-01-01/P1D'),
    retain('P90D\u0000', null),
    retain(''),
    policy('retain of 65 characters', JSON.stringify({ retain: `P${'1'.repeat(63)}D` })),
    policy('retain as a number', '{"retain":90}'),
    policy('retain null', '{"retain":null}'),
    policy('retain as an array', '{"retain":["P90D"]}'),
    policy('retain as an object', '{"retain":{"days":90}}'),
    policy('retain missing', '{"description":"no retain"}'),
    policy('an unknown key', '{"retain":"P90D","legalHold":true}'),
    policy('description of 501 characters', JSON.stringify({ retain: 'P90D', description: 'd'.repeat(501) })),
    policy('description with a NUL character', '{"retain":"P90D","description":"a\\u0000b"}'),
    policy('description with a lone surrogate', '{"retain":"P90D","description":"a\\udc00b"}'),
    policy('not JSON', 'retain=P90D'),
    policy('name in upper case', '{"retain":"P90D"}', 'GOLD'),
    policy('name starting with a dash', '{"retain":"P90D"}', '-gold'),
    policy('name of 65 characters', '{"retain":"P90D"}', 'g'.repeat(65)),
    policy('name with a space', '{"retain":"P90D"}', 'gold%20plan'),
    policy('name with unicode', '{"retain":"P90D"}', encodeURIComponent('göld')),
  ];
}

export function governanceCases(h: HostileVault): HostileCase[] {
  const c = h.tokens.compliance;
  const hold = (name: string, body: string, target = `/v1/recordings/${h.recordingId}/legal-hold`, expect: HostileCase['expect'] = 400): HostileCase =>
    ({ name: `legal hold: ${name}`, request: jsonRequest('PUT', target, c, body), expect });
  const erase = (name: string, body: string, expect: HostileCase['expect'] = 400): HostileCase =>
    ({ name: `erasure: ${name}`, request: jsonRequest('DELETE', `/v1/recordings/${h.recordingId}`, c, body), expect });
  const audit = (name: string, qs: string, token = c, expect: HostileCase['expect'] = 400): HostileCase =>
    ({ name: `audit export: ${name}`, request: { target: `/v1/audit-events?${qs}`, token }, expect });
  return [
    hold('empty object', '{}'),
    hold('empty reason', '{"reason":""}'),
    hold('reason of whitespace', '{"reason":"   "}'),
    hold('caseId as a number', '{"reason":"litigation","caseId":5}'),
    hold('reason with a NUL character', '{"reason":"litigation\\u0000"}'),
    hold('caseId with a lone surrogate', '{"reason":"litigation","caseId":"\\ud83d"}'),
    hold('an unknown key', '{"reason":"litigation","until":"forever"}'),
    hold('reason of 1,001 characters', JSON.stringify({ reason: 'r'.repeat(1_001) })),
    hold('on a recording id that is no UUID', '{"reason":"litigation"}', '/v1/recordings/not-a-uuid/legal-hold', 404),
    { name: 'legal hold: bulk filter with a bad date', request: jsonRequest('POST', '/v1/legal-holds', c, '{"reason":"x","filter":{"from":"+099999-01-01T00:00:00Z"}}'), expect: 400 },
    { name: 'legal hold: bulk filter with a NUL agentId', request: jsonRequest('POST', '/v1/legal-holds', c, '{"reason":"x","filter":{"agentId":"\\u0000"}}'), expect: 400 },
    { name: 'legal hold: bulk filter not an object', request: jsonRequest('POST', '/v1/legal-holds', c, '{"reason":"x","filter":"all"}'), expect: 400 },
    { name: 'legal hold: release without caseId', request: jsonRequest('POST', '/v1/legal-holds/release', c, '{"reason":"done"}'), expect: 400 },
    { name: 'legal hold: release with a NUL caseId', request: jsonRequest('POST', '/v1/legal-holds/release', c, '{"caseId":"case\\u0000"}'), expect: 400 },
    erase('reason as a number', '{"reason":5}'),
    erase('an unknown key', '{"force":true}'),
    erase('reason with a NUL character', '{"reason":"gdpr\\u0000"}'),
    { name: 'erasure: a recording id that is no UUID', request: { method: 'DELETE', target: '/v1/recordings/not-a-uuid', token: c }, expect: 404 },
    { name: 'erasure: by subject with no phone', request: jsonRequest('POST', '/v1/erasures', c, '{"reason":"gdpr"}'), expect: 400 },
    { name: 'erasure: by subject with a phone of letters', request: jsonRequest('POST', '/v1/erasures', c, '{"phone":"abcdef","reason":"gdpr"}'), expect: 400 },
    { name: 'erasure: by subject with a NUL phone', request: jsonRequest('POST', '/v1/erasures', c, '{"phone":"+1555\\u00000100","reason":"gdpr"}'), expect: 400 },
    { name: 'keys: rotate with kmsKeyId as a number', request: jsonRequest('POST', '/v1/keys/rotate', h.tokens.admin, '{"kmsKeyId":5}'), expect: 400 },
    { name: 'keys: rotate with an empty kmsKeyId', request: jsonRequest('POST', '/v1/keys/rotate', h.tokens.admin, '{"kmsKeyId":""}'), expect: 400 },
    { name: 'keys: rotate with a NUL kmsKeyId', request: jsonRequest('POST', '/v1/keys/rotate', h.tokens.admin, '{"kmsKeyId":"arn:aws:kms:x\\u0000"}'), expect: 400 },
    { name: 'keys: rotate with an unknown key', request: jsonRequest('POST', '/v1/keys/rotate', h.tokens.admin, '{"everything":true}'), expect: 400 },
    { name: 'tenant settings: default policy in upper case', request: jsonRequest('PUT', '/v1/tenant-settings', h.tokens.admin, '{"defaultPolicy":"GOLD"}'), expect: 400 },
    { name: 'tenant settings: default policy that does not exist', request: jsonRequest('PUT', '/v1/tenant-settings', h.tokens.admin, '{"defaultPolicy":"ghost"}'), expect: 400 },
    { name: 'tenant settings: empty object', request: jsonRequest('PUT', '/v1/tenant-settings', h.tokens.admin, '{}'), expect: 400 },
    audit('format not offered', 'format=xml'),
    audit('from not a date', 'from=last-week'),
    audit('from in year 99999', 'from=%2B099999-01-01T00:00:00Z'),
    audit('from later than to', 'from=2025-01-01T00:00:00Z&to=2024-01-01T00:00:00Z'),
    audit('an unknown action', 'action=recording.stolen'),
    audit('an unknown parameter', 'sql=1%3Bdrop%20table%20audit_events'),
    audit('recordingId with a NUL character', 'recordingId=%00'),
    audit('actor given twice', 'actor=a&actor=b'),
    audit('by an admin', 'format=ndjson', h.tokens.admin, 403),
  ];
}
