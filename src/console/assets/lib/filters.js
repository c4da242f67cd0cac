// @ts-check
/**
 * The filters of GET /v1/recordings as the search form shows them. `query` values are exactly
 * the API's query parameters (text), which is also what a saved search stores.
 */

/**
 * @typedef {{ name: string, label: string, kind: 'text' | 'tel' | 'instant' | 'direction', hint?: string }} FilterField
 * @typedef {Record<string, string>} Query
 */

/** @type {readonly FilterField[]} */
export const FILTER_FIELDS = [
  { name: 'startedAfter', label: 'Started at or after', kind: 'instant' },
  { name: 'startedBefore', label: 'Started before', kind: 'instant' },
  { name: 'phone', label: 'Phone (either party)', kind: 'tel' },
  { name: 'from', label: 'From (caller)', kind: 'tel' },
  { name: 'to', label: 'To (callee)', kind: 'tel' },
  { name: 'agentId', label: 'Agent id', kind: 'text' },
  { name: 'callId', label: 'Call id', kind: 'text' },
  { name: 'direction', label: 'Direction', kind: 'direction' },
  { name: 'tags', label: 'Tags (all of, comma separated)', kind: 'text', hint: 'vip,billing' },
];

export const FILTER_NAMES = FILTER_FIELDS.map((f) => f.name);

/**
 * An instant as the value of <input type="datetime-local"> (the browser's local time).
 * @param {string} iso
 * @returns {string}
 */
export function toLocalInput(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '';
  const local = new Date(d.getTime() - d.getTimezoneOffset() * 60_000);
  return local.toISOString().slice(0, 19);
}

/**
 * A datetime-local value (local time, no zone) as the ISO instant the API takes.
 * @param {string} value
 * @returns {string}
 */
export function fromLocalInput(value) {
  const d = new Date(value);
  return Number.isNaN(d.getTime()) ? value : d.toISOString();
}

/**
 * The non-empty filters of the form, as API query parameters.
 * @param {HTMLFormElement} form
 * @returns {Query}
 */
export function readFilters(form) {
  /** @type {Query} */
  const query = {};
  for (const field of FILTER_FIELDS) {
    const el = form.elements.namedItem(field.name);
    if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement)) continue;
    const value = el.value.trim();
    if (value !== '') query[field.name] = field.kind === 'instant' ? fromLocalInput(value) : value;
  }
  return query;
}

/**
 * Puts a query into the form; fields it does not name are cleared.
 * @param {HTMLFormElement} form
 * @param {Query} query
 */
export function writeFilters(form, query) {
  for (const field of FILTER_FIELDS) {
    const el = form.elements.namedItem(field.name);
    if (!(el instanceof HTMLInputElement || el instanceof HTMLSelectElement)) continue;
    const value = query[field.name] ?? '';
    el.value = field.kind === 'instant' && value ? toLocalInput(value) : value;
  }
}

/**
 * The filters named in a URL query string (unknown parameters are ignored).
 * @param {string} search location.search
 * @returns {Query}
 */
export function filtersFromUrl(search) {
  const params = new URLSearchParams(search);
  /** @type {Query} */
  const query = {};
  for (const name of FILTER_NAMES) {
    const value = params.get(name);
    if (value) query[name] = value;
  }
  return query;
}
