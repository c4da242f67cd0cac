import { z } from 'zod';
import { BadRequestError } from '../errors.js';
import { parseInput } from '../lib/validate.js';
import type { CallMetadata } from './types.js';

/** Metadata a PBX sends with a recording, as query parameters (PUT) or form fields (POST). */
export interface UploadMetadata extends CallMetadata {
  readonly policy: string | null;
}

export const CALL_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@+=-]{0,199}$/;
const TYPE_HINTS = ['.wav', '.mp3', '.ogg', '.opus', '.flac', '.webm'];
export const POLICY_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** Splits `call-001.wav` into the callId `call-001` and the hint `wav`. */
export function parseCallId(raw: string): { callId: string; typeHint: string | null } {
  const lower = raw.toLowerCase();
  const hint = TYPE_HINTS.find((ext) => lower.endsWith(ext) && raw.length > ext.length);
  const callId = hint ? raw.slice(0, -hint.length) : raw;
  if (!CALL_ID_PATTERN.test(callId)) {
    throw new BadRequestError('callId must be 1-200 characters of letters, digits and . _ : @ + = - and start with a letter or digit', 'invalid_call_id');
  }
  return { callId, typeHint: hint ? hint.slice(1) : null };
}

const text = (max: number) => z.string().trim().min(1).max(max);
/** `tags` as a comma list: at most 32 tags of up to 64 characters (upload and search alike). */
export const tagList = z.string().max(2048).transform((s) => s.split(',').map((t) => t.trim()).filter(Boolean)).pipe(z.array(text(64)).max(32));
const schema = z.object({
  startedAt: z.string().datetime({ offset: true }).transform((s) => new Date(s)).optional(),
  durationSeconds: z.coerce.number().finite().min(0).max(7 * 86_400).optional(),
  direction: z.enum(['inbound', 'outbound', 'internal']).optional(),
  from: text(64).optional(),
  to: text(64).optional(),
  agentId: text(128).optional(),
  policy: z.string().regex(POLICY_NAME, 'policy names are lowercase letters, digits, _ and -').optional(),
  tags: tagList.optional(),
});

export const METADATA_FIELDS = Object.keys(schema.shape);

export function parseMetadata(input: Record<string, unknown>): UploadMetadata {
  const picked: Record<string, unknown> = {};
  for (const key of METADATA_FIELDS) {
    const value = input[key];
    if (value === undefined || value === '') continue;
    if (typeof value !== 'string') throw new BadRequestError(`${key} must be given once, as text`, 'invalid_metadata');
    // Form fields bypass the request-target checks, and PostgreSQL text refuses U+0000.
    if (value.includes('\u0000')) throw new BadRequestError(`${key} must not contain NUL characters`, 'invalid_metadata');
    picked[key] = value;
  }
  const m = parseInput(schema, picked, { code: 'invalid_metadata', what: 'metadata' });
  return {
    startedAt: m.startedAt ?? null, durationSeconds: m.durationSeconds ?? null, direction: m.direction ?? null,
    from: m.from ?? null, to: m.to ?? null, agentId: m.agentId ?? null, policy: m.policy ?? null, tags: [...new Set(m.tags ?? [])],
  };
}
