import type { EncryptionContext } from './types.js';

/**
 * Only `tenant` and `recordingId` ever leave this module, whatever else the caller's object
 * carries: the context is logged in plain text by KMS and must stay free of personal data.
 */
export function contextPairs(ctx: EncryptionContext): { tenant: string; recordingId: string } {
  if (typeof ctx.tenant !== 'string' || ctx.tenant === '') throw new TypeError('encryption context needs a tenant');
  if (typeof ctx.recordingId !== 'string' || ctx.recordingId === '') {
    throw new TypeError('encryption context needs a recordingId');
  }
  return { tenant: ctx.tenant, recordingId: ctx.recordingId };
}

/**
 * Deterministic bytes for use as associated data: JSON with keys in sorted order
 * (`{"recordingId":"…","tenant":"…"}`). JSON.stringify escapes the values, so no two contexts
 * share an encoding.
 */
export function canonicalContext(ctx: EncryptionContext): Buffer {
  const { tenant, recordingId } = contextPairs(ctx);
  return Buffer.from(JSON.stringify({ recordingId, tenant }), 'utf8');
}
