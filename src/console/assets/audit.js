// @ts-check
/**
 * The audit viewer (compliance): the tenant's audit events, newest first, filtered and paged
 * through GET /v1/audit-events, each page verified in the browser (lib/chain.js), with export
 * links for the same filters as NDJSON and CSV.
 */
import { apiText } from './lib/api.js';
import { appRoot, h } from './lib/dom.js';
import { AUDIT_ACTIONS } from './lib/audit-actions.js';
import { eventsPanel, parseExport } from './lib/audit-view.js';
import { field, formValues, input, section, select } from './lib/forms.js';

const PAGE_SIZE = 50;
const FILTERS = ['after', 'before', 'actor', 'action', 'outcome', 'recordingId'];

const app = appRoot();
const params = new URLSearchParams(location.search);
const form = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' },
  field('From (UTC date)', input('after', { type: 'date' })),
  field('Before (UTC date)', input('before', { type: 'date' })),
  field('Actor (sub)', input('actor')),
  field('Action', select('action', [['', 'Any action'], ...[...AUDIT_ACTIONS].sort().map((a) => /** @type {[string, string]} */ ([a, a]))])),
  field('Outcome', select('outcome', [['', 'Any outcome'], ['allowed', 'allowed'], ['denied', 'denied'], ['error', 'error']])),
  field('Recording id', input('recordingId')),
  h('button', { type: 'submit' }, 'Apply filters'),
));
for (const name of FILTERS) {
  const control = /** @type {HTMLInputElement | null} */ (form.elements.namedItem(name));
  const value = params.get(name);
  if (control && value) control.value = value;
}

const panel = eventsPanel({ empty: 'No events match these filters.', count: (n) => `${n} event(s) on this page.` });
const ndjsonLink = h('a', { class: 'button', download: 'audit-events.ndjson' }, 'Export NDJSON');
const csvLink = h('a', { class: 'button', download: 'audit-events.csv' }, 'Export CSV');
const newer = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', onClick: () => void go(-1) }, 'Newer'));
const older = /** @type {HTMLButtonElement} */ (h('button', { type: 'button', onClick: () => void go(1) }, 'Older'));
app.append(
  section('Filters', form),
  section('Export', h('p', {}, 'Every event matching the filters, oldest first, with its hashes, for ', h('code', {}, 'callvault audit verify'), ' or a SIEM.'),
    h('p', { class: 'actions' }, ndjsonLink, ' ', csvLink)),
  section('Events', panel.verification, panel.pinned, panel.status, panel.results, h('nav', { 'aria-label': 'Event pages', class: 'pager' }, newer, ' ', older)),
);

/** beforeSeq of each page shown so far: [undefined] is the newest page. */
/** @type {Array<number | undefined>} */
let pages = [undefined];
let index = 0;
let lastSeq = /** @type {number | undefined} */ (undefined);

function filterQuery() {
  const q = new URLSearchParams(formValues(form));
  return q;
}

function updateExports() {
  const base = filterQuery();
  for (const [link, format] of /** @type {Array<[HTMLElement, string]>} */ ([[ndjsonLink, 'ndjson'], [csvLink, 'csv']])) {
    const q = new URLSearchParams(base);
    q.set('format', format);
    link.setAttribute('href', `/v1/audit-events?${q}`);
  }
}

/** @param {number} step */
async function go(step) {
  if (step > 0 && lastSeq !== undefined) pages[index + 1] = lastSeq;
  index = Math.max(0, index + step);
  await load();
}

async function load() {
  const q = filterQuery();
  q.set('order', 'desc');
  q.set('limit', String(PAGE_SIZE));
  const before = pages[index];
  if (before !== undefined) q.set('beforeSeq', String(before));
  newer.disabled = true;
  older.disabled = true;
  await panel.show(async () => parseExport(await apiText('GET', `/v1/audit-events?${q}`)),
    (events) => `Audit events ${index * PAGE_SIZE + 1}–${index * PAGE_SIZE + events.length}, newest first`,
    (events) => {
      lastSeq = events[events.length - 1]?.seq;
      newer.disabled = index === 0;
      older.disabled = events.length < PAGE_SIZE;
    });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  pages = [undefined];
  index = 0;
  updateExports();
  void load();
});

updateExports();
void load();
