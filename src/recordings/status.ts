/**
 * The states of a recording row, the only spellings SQL may use. 'deleting' is a claimed
 * deletion under a lease; 'deleted' is a tombstone that keeps only what the audit trail needs.
 */
export const RECORDING_STATUS = Object.freeze({
  active: 'active',
  deleting: 'deleting',
  deleted: 'deleted',
} as const);

export type RecordingStatus = (typeof RECORDING_STATUS)[keyof typeof RECORDING_STATUS];

/** The reasons a row leaves 'active' (deletion_reason). */
export const DELETION_REASON = Object.freeze({ retention: 'retention', erasure: 'erasure' } as const);
