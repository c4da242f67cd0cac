// @ts-check
/**
 * The reason given for listening to a recording, remembered for that recording until the tab's
 * session ends (sessionStorage), so it is asked once per recording and still sent, and audited,
 * with every link. Only the reason text is kept: never a link, audio or peaks.
 */
const PREFIX = 'callvault.reason.';

/**
 * @param {string} recordingId
 * @returns {string}
 */
export function rememberedReason(recordingId) {
  try {
    return sessionStorage.getItem(PREFIX + recordingId) ?? '';
  } catch {
    return '';
  }
}

/**
 * @param {string} recordingId
 * @param {string} reason
 */
export function rememberReason(recordingId, reason) {
  try {
    sessionStorage.setItem(PREFIX + recordingId, reason);
  } catch {
    // Storage refused (private mode, quota): the reason is asked again next time.
  }
}
