// @ts-check
/**
 * The audit actions the viewer offers as filters: the server's AUDIT_ACTIONS (src/audit/types.ts),
 * which test/console/chain.test.ts keeps this list equal to.
 */
export const AUDIT_ACTIONS = [
  'recording.uploaded', 'recording.listed', 'recording.viewed', 'link.issued', 'link.revoked', 'media.read',
  'legal_hold.set', 'legal_hold.cleared', 'recording.deleted', 'policy.updated', 'audit.exported', 'keys.rotated',
  'auth.denied', 'anomaly.download_rate', 'audit.denied_suppressed', 'orphan.deleted', 'audit.anchored',
  'download.issued', 'media.downloaded', 'download.settings_updated',
  'console.signed_in', 'console.signed_out', 'console.session_expired',
  'media.peaks',
  'recording.redacted', 'recording.original_shredded', 'redaction.requested', 'redaction.approved', 'redaction.refused',
  'redaction.original_read', 'redaction.settings_updated',
];
