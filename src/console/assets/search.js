// @ts-check
/**
 * Recording search: every filter of GET /v1/recordings, paged with the API's cursor, and the
 * user's saved searches (kept by the vault, per user). The filters live in the address bar so
 * that going back from a recording shows the same search; cursors and results live nowhere but
 * in this page's memory.
 */
import { api, principal } from './lib/api.js';
import { appRoot, h, mount } from './lib/dom.js';
import { FILTER_FIELDS, filtersFromUrl, readFilters, writeFilters } from './lib/filters.js';
import { formatDate, formatTime } from './lib/format.js';
import { problemText, say, statusLine } from './lib/forms.js';
import { useStylesheet } from './lib/styles.js';

/**
 * @typedef {import('./lib/filters.js').Query} Query
 * @typedef {{ id: string, callId: string, startedAt: string | null, createdAt: string, durationSeconds: number | null,
 *   direction: string | null, from: string | null, to: string | null, agentId: string | null, tags: string[], legalHold: boolean }} Row
 * @typedef {{ items: Row[], nextCursor: string | null }} SearchPage
 * @typedef {{ id: string, name: string, query: Query }} Saved
 */

const PAGE_SIZES = ['25', '50', '100'];
const app = appRoot();
const me = principal();
const agentOnly = me.roles.every((r) => r === 'agent');

const status = statusLine();
const form = /** @type {HTMLFormElement} */ (h('form', { class: 'filters', onSubmit: (/** @type {Event} */ e) => { e.preventDefault(); void runSearch(); } },
  h('fieldset', {}, h('legend', {}, 'Filters'), ...FILTER_FIELDS.map(filterInput),
    h('div', { class: 'field' }, h('label', { for: 'f-limit' }, 'Per page'),
      h('select', { id: 'f-limit', name: 'limit' }, ...PAGE_SIZES.map((n) => h('option', { value: n }, n))))),
  h('div', { class: 'actions' },
    h('button', { type: 'submit' }, 'Search'),
    h('button', { type: 'button', onClick: () => { writeFilters(form, {}); void runSearch(); } }, 'Clear filters'))));
const results = h('div', { class: 'results' });
const pager = h('nav', { class: 'pager', 'aria-label': 'Result pages' });
const savedList = h('ul', { class: 'saved-list' });
const saveName = /** @type {HTMLInputElement} */ (h('input', { id: 'save-name', name: 'name', type: 'text', maxlength: '100', required: 'required' }));
const saveForm = h('form', { class: 'save-search', onSubmit: (/** @type {Event} */ e) => { e.preventDefault(); void saveSearch(); } },
  h('label', { for: 'save-name' }, 'Save this search as'), saveName, h('button', { type: 'submit' }, 'Save'));

/** Cursors of the pages before the current one; the first page has none. */
/** @type {(string | null)[]} */
let cursors = [];
/** @type {string | null} */
let current = null;

/**
 * @param {import('./lib/filters.js').FilterField} field
 * @returns {HTMLElement}
 */
function filterInput(field) {
  const id = `f-${field.name}`;
  /** @type {HTMLElement} */
  let input;
  if (field.kind === 'direction') {
    input = h('select', { id, name: field.name },
      h('option', { value: '' }, 'Any'), h('option', { value: 'inbound' }, 'Inbound'),
      h('option', { value: 'outbound' }, 'Outbound'), h('option', { value: 'internal' }, 'Internal'));
  } else {
    const type = field.kind === 'instant' ? 'datetime-local' : field.kind === 'tel' ? 'tel' : 'text';
    input = h('input', { id, name: field.name, type, ...(field.kind === 'instant' ? { step: '1' } : {}), ...(field.hint ? { placeholder: field.hint } : {}) });
  }
  return h('div', { class: 'field' }, h('label', { for: id }, field.label), input);
}

/** @returns {Query} */
function currentQuery() {
  const limit = /** @type {HTMLSelectElement} */ (form.elements.namedItem('limit')).value;
  return { ...readFilters(form), ...(limit === '50' ? {} : { limit }) };
}

/**
 * @param {string | null} cursor
 */
async function load(cursor) {
  const query = currentQuery();
  const params = new URLSearchParams(query);
  history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}`);
  if (cursor) params.set('cursor', cursor);
  say(status, 'Searching…');
  try {
    const page = /** @type {SearchPage} */ (await api('GET', `/v1/recordings?${params}`));
    current = cursor;
    renderResults(page);
    say(status, page.items.length === 0 ? 'No recordings match.' : `Page ${cursors.length + 1}: ${page.items.length} recordings.`);
  } catch (err) {
    say(status, `Search failed: ${problemText(err)}`, 'error');
  }
}

async function runSearch() {
  cursors = [];
  await load(null);
}

/** @param {SearchPage} page */
function renderResults(page) {
  const head = ['Started', 'Call id', 'Direction', 'From', 'To', 'Agent', 'Duration', 'Tags', 'Hold'];
  mount(results, page.items.length === 0 ? null : h('table', { class: 'recordings' },
    h('caption', {}, agentOnly ? 'Your recordings' : 'Recordings'),
    h('thead', {}, h('tr', {}, ...head.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...page.items.map(row))));
  const next = page.nextCursor;
  mount(pager,
    cursors.length > 0 && h('button', { type: 'button', onClick: () => { const prev = cursors.pop() ?? null; void load(prev); } }, 'Previous page'),
    next !== null && h('button', { type: 'button', onClick: () => { cursors.push(current); void load(next); } }, 'Next page'));
}

/**
 * @param {Row} r
 * @returns {HTMLElement}
 */
function row(r) {
  const href = `/console/recordings/${encodeURIComponent(r.id)}`;
  return h('tr', {},
    h('td', {}, formatDate(r.startedAt ?? r.createdAt)),
    h('td', {}, h('a', { href }, r.callId)),
    h('td', {}, r.direction ?? '–'),
    h('td', {}, r.from ?? '–'),
    h('td', {}, r.to ?? '–'),
    h('td', {}, r.agentId ?? '–'),
    h('td', {}, formatTime(r.durationSeconds)),
    h('td', {}, r.tags.join(', ')),
    h('td', {}, r.legalHold ? 'On hold' : ''));
}

async function loadSaved() {
  try {
    const { items } = /** @type {{ items: Saved[] }} */ (await api('GET', '/v1/saved-searches'));
    mount(savedList, items.length === 0 ? h('li', {}, 'No saved searches yet.') : items.map((s) => h('li', {},
      h('button', { type: 'button', class: 'link', onClick: () => { writeFilters(form, s.query); void runSearch(); } }, s.name),
      h('button', { type: 'button', class: 'secondary', 'aria-label': `Delete saved search ${s.name}`, onClick: () => void deleteSaved(s) }, 'Delete'))));
  } catch (err) {
    say(status, `Saved searches could not be loaded: ${problemText(err)}`, 'error');
  }
}

async function saveSearch() {
  try {
    await api('POST', '/v1/saved-searches', { name: saveName.value, query: readFilters(form) });
    say(status, `Saved as “${saveName.value.trim()}”.`);
    saveName.value = '';
    await loadSaved();
  } catch (err) {
    say(status, `Not saved: ${problemText(err)}`, 'error');
  }
}

/** @param {Saved} s */
async function deleteSaved(s) {
  try {
    await api('DELETE', `/v1/saved-searches/${encodeURIComponent(s.id)}`);
    say(status, `Deleted “${s.name}”.`);
    await loadSaved();
  } catch (err) {
    say(status, `Not deleted: ${problemText(err)}`, 'error');
  }
}

useStylesheet('review.css');
mount(app,
  h('h1', { id: 'page-title' }, agentOnly ? 'My recordings' : 'Recordings'),
  ...(agentOnly ? [h('p', {}, 'You see the recordings of your own calls.')] : []),
  h('div', { class: 'search-layout' },
    h('div', { class: 'search-main' }, form, status, results, pager),
    h('aside', { class: 'saved', 'aria-label': 'Saved searches' }, h('h2', {}, 'Saved searches'), savedList, saveForm)));
const fromUrl = filtersFromUrl(location.search);
writeFilters(form, fromUrl);
const limitParam = new URLSearchParams(location.search).get('limit');
if (limitParam && PAGE_SIZES.includes(limitParam)) /** @type {HTMLSelectElement} */ (form.elements.namedItem('limit')).value = limitParam;
else /** @type {HTMLSelectElement} */ (form.elements.namedItem('limit')).value = '50';
await Promise.all([runSearch(), loadSaved()]);
app.dataset.ready = 'true';
performance.mark('console-search-interactive');
