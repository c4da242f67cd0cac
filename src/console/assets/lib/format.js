// @ts-check
/** Display formats shared by the review pages. Everything returns plain text for text nodes. */

/**
 * Seconds as m:ss, or h:mm:ss from an hour on; "–" when unknown.
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function formatTime(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '–';
  const total = Math.max(0, Math.floor(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/**
 * An ISO-8601 instant in the browser's locale and time zone; "–" when absent.
 * @param {string | null | undefined} iso
 * @returns {string}
 */
export function formatDate(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/**
 * @param {number} bytes
 * @returns {string}
 */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/**
 * A `#t=` deep link: seconds (`#t=90`, `#t=90.5`) or clock time (`#t=1:30`, `#t=1:02:03`).
 * @param {string} hash location.hash
 * @returns {number | null}
 */
export function parseTimeHash(hash) {
  const match = /^#t=(\d+(?:\.\d+)?|\d+(?::\d{1,2}){1,2})$/.exec(hash);
  if (!match || match[1] === undefined) return null;
  const parts = match[1].split(':').map(Number);
  return parts.reduce((acc, part) => acc * 60 + part, 0);
}
