import { BadRequestError, UnprocessableContentError } from '../errors.js';

/**
 * What a recording's own dates must satisfy when it arrives. A PBX clock that is wrong would
 * otherwise decide retention: a start time in 1970 gives a retainUntil that has already passed,
 * and the next retention pass would delete the recording the vault had just confirmed, leaving
 * its callId burned. Both checks run before the body is read whenever the metadata comes first.
 */

/** A start time later than the vault's clock plus RECORDING_MAX_CLOCK_SKEW is refused (400). */
export function checkStartedAt(startedAt: Date | null, now: Date, maxClockSkewMs: number): void {
  if (startedAt && startedAt.getTime() > now.getTime() + maxClockSkewMs) {
    throw new BadRequestError(
      `startedAt ${startedAt.toISOString()} is ahead of the vault's clock (${now.toISOString()}) by more than the allowed skew; check the PBX clock. Nothing was kept`,
      'started_at_in_future',
    );
  }
}

/** A recording whose retention window closed before it arrived is refused (422); its callId stays free. */
export function checkRetentionOpen(retainUntil: Date, policy: string, now: Date): void {
  if (retainUntil.getTime() <= now.getTime()) {
    throw new UnprocessableContentError(
      `Under retention policy ${policy} this recording had to be deleted by ${retainUntil.toISOString()}, before it arrived; check startedAt and the PBX clock. Nothing was kept and the callId is still free`,
      'retention_already_expired',
    );
  }
}
