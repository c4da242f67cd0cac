// @ts-check
/**
 * Legal holds (compliance): hold one recording or every recording matching a filter under a
 * matter (case id), with no cap; the tenant's holds grouped by matter; release a recording or a
 * whole matter.
 */
import { api } from './lib/api.js';
import { appRoot, h } from './lib/dom.js';
import { FILTER_FIELDS, FILTER_NAMES } from './lib/filters.js';
import { field, formValues, input, problemText, say, section, select, statusLine } from './lib/forms.js';

const app = appRoot();

/**
 * A search filter as a hold takes it: the start bounds are UTC dates, held from their midnight.
 * @param {import('./lib/filters.js').FilterField} f
 */
function filterField(f) {
  if (f.kind === 'instant') return field(`${f.label} (UTC date)`, input(f.name, { type: 'date' }));
  if (f.kind === 'direction') return field(f.label, select(f.name, [['', 'Any'], ['inbound', 'inbound'], ['outbound', 'outbound'], ['internal', 'internal']]));
  return field(f.label, input(f.name, f.kind === 'tel' ? { type: 'tel' } : {}));
}

const bulkStatus = statusLine();
const bulkForm = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' },
  ...FILTER_FIELDS.map(filterField),
  field('Case id (matter)', input('caseId', { required: '' })),
  field('Reason', input('reason', { required: '' })),
  h('button', { type: 'submit' }, 'Hold every matching recording'),
  bulkStatus,
));

const oneStatus = statusLine();
const oneForm = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' },
  field('Recording id', input('recordingId', { required: '' })),
  field('Case id (matter)', input('caseId')),
  field('Reason', input('reason', { required: '' })),
  h('button', { type: 'submit' }, 'Hold this recording'),
  oneStatus,
));

const mattersStatus = statusLine();
const matters = h('div', { class: 'results' });
const detail = h('div', { class: 'results' });
const releaseReason = input('releaseReason');
app.append(
  section('Hold by filter', h('p', {}, 'Every active recording of the tenant that matches all the filters given is held, however many there are.'), bulkForm),
  section('Hold one recording', oneForm),
  section('Matters', mattersStatus, matters, detail),
);

/** @param {string} date */
const midnight = (date) => `${date}T00:00:00Z`;

bulkForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const values = formValues(bulkForm);
  /** @type {Record<string, string>} */
  const filter = {};
  for (const name of FILTER_NAMES) {
    const value = values[name];
    if (value !== undefined) filter[name] = name.startsWith('started') ? midnight(value) : value;
  }
  if (Object.keys(filter).length === 0) {
    say(bulkStatus, 'Give at least one filter: an empty filter would hold every recording of the tenant.', 'error');
    return;
  }
  say(bulkStatus, 'Holding…');
  try {
    const r = /** @type {{ held: number, alreadyHeld: number }} */ (await api('POST', '/v1/legal-holds', { reason: values.reason, caseId: values.caseId, filter }));
    say(bulkStatus, `Held ${r.held} recording(s) under ${values.caseId}; ${r.alreadyHeld} matching recording(s) were already held.`, 'ok');
    await loadMatters();
  } catch (err) {
    say(bulkStatus, problemText(err), 'error');
  }
});

oneForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const values = formValues(oneForm);
  say(oneStatus, 'Holding…');
  try {
    const r = /** @type {{ recordingId: string, caseId: string | null }} */ (
      await api('PUT', `/v1/recordings/${encodeURIComponent(values.recordingId ?? '')}/legal-hold`, { reason: values.reason, caseId: values.caseId ?? null }));
    say(oneStatus, `Recording ${r.recordingId} is on hold${r.caseId ? ` under ${r.caseId}` : ''}.`, 'ok');
    await loadMatters();
  } catch (err) {
    say(oneStatus, problemText(err), 'error');
  }
});

/** @param {string | null} caseId */
const matterName = (caseId) => caseId ?? '(no case id)';

async function loadMatters() {
  try {
    const { matters: list } = /** @type {{ matters: { caseId: string | null, count: number, firstSetAt: string | null, lastSetAt: string | null }[] }} */ (
      await api('GET', '/v1/legal-holds'));
    say(mattersStatus, list.length === 0 ? 'Nothing is on legal hold.' : `${list.length} matter(s) with recordings on hold.`);
    const rows = list.map((/** @type {{ caseId: string | null, count: number, firstSetAt: string | null, lastSetAt: string | null }} */ m) => h('tr', {},
      h('th', { scope: 'row' }, matterName(m.caseId)),
      h('td', {}, String(m.count)),
      h('td', {}, m.firstSetAt ?? ''),
      h('td', {}, m.lastSetAt ?? ''),
      h('td', {},
        h('button', { type: 'button', onClick: () => void showMatter(m.caseId, undefined) }, `Recordings of ${matterName(m.caseId)}`),
        m.caseId === null ? '' : releaseMatterForm(m.caseId, m.count)),
    ));
    matters.replaceChildren(h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, 'Legal holds by matter'),
      h('thead', {}, h('tr', {}, ...['Case id', 'Recordings held', 'First hold', 'Latest hold', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...rows))));
  } catch (err) {
    say(mattersStatus, problemText(err), 'error');
  }
}

/** @param {string} caseId @param {number} count */
function releaseMatterForm(caseId, count) {
  const reason = input('reason', { required: '' });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'inline' },
    field(`Reason to release ${caseId}`, reason),
    h('button', { type: 'submit' }, `Release all ${count}`)));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      const r = /** @type {{ released: number }} */ (await api('POST', '/v1/legal-holds/release', { caseId, reason: reason.value.trim() || undefined }));
      say(mattersStatus, `Released ${r.released} recording(s) of ${caseId}.`, 'ok');
      detail.replaceChildren();
      await loadMatters();
    } catch (err) {
      say(mattersStatus, problemText(err), 'error');
    }
  });
  return form;
}

/**
 * @param {string | null} caseId
 * @param {string | undefined} after
 */
async function showMatter(caseId, after) {
  const q = new URLSearchParams({ limit: '100' });
  if (caseId === null) q.set('withoutCase', 'true');
  else q.set('caseId', caseId);
  if (after) q.set('after', after);
  try {
    const page = /** @type {{ items: { recordingId: string, callId: string, reason: string | null, setBy: string | null, setAt: string | null }[], nextAfter: string | null }} */ (
      await api('GET', `/v1/legal-holds/recordings?${q}`));
    const rows = page.items.map((/** @type {{ recordingId: string, callId: string, reason: string | null, setBy: string | null, setAt: string | null }} */ r) => h('tr', {},
      h('td', {}, r.callId),
      h('td', { class: 'mono' }, r.recordingId),
      h('td', {}, r.reason ?? ''),
      h('td', {}, r.setBy ?? ''),
      h('td', {}, r.setAt ?? ''),
      h('td', {}, h('button', { type: 'button', onClick: () => void release(r.recordingId, caseId) }, `Release ${r.callId}`)),
    ));
    const next = page.nextAfter;
    const more = next
      ? h('button', { type: 'button', onClick: () => void showMatter(caseId, next) }, 'Next page')
      : '';
    detail.replaceChildren(field('Reason for releasing a recording', releaseReason), h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, `Recordings held under ${matterName(caseId)}`),
      h('thead', {}, h('tr', {}, ...['Call id', 'Recording id', 'Reason', 'Held by', 'Held since', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...rows))), more);
  } catch (err) {
    say(mattersStatus, problemText(err), 'error');
  }
}

/** @param {string} id @param {string | null} caseId */
async function release(id, caseId) {
  try {
    const reason = releaseReason.value.trim();
    if (!reason) {
      say(mattersStatus, 'Give the reason for releasing the recording first.', 'error');
      releaseReason.focus();
      return;
    }
    await api('DELETE', `/v1/recordings/${encodeURIComponent(id)}/legal-hold`, { reason });
    say(mattersStatus, `Released recording ${id}.`, 'ok');
    await loadMatters();
    await showMatter(caseId, undefined);
  } catch (err) {
    say(mattersStatus, problemText(err), 'error');
  }
}

void loadMatters();
