// @ts-check
/**
 * Retention policies (admin): list, create and edit, with a simulator that asks the retention
 * dry run (GET /v1/retention-dry-run) what would be deleted by a chosen date.
 */
import { api } from './lib/api.js';
import { appRoot, h } from './lib/dom.js';
import { field, formValues, input, problemText, say, section, select, statusLine } from './lib/forms.js';

/** @typedef {{ name: string, retain: string, description: string | null, isDefault: boolean, updatedBy: string, updatedAt: string }} Policy */
/** @typedef {{ wouldDelete: number, keptOnHold: number }} Counts */
/** @typedef {{ items: Policy[], defaultPolicy: string, systemDefault: { name: string, retain: string } }} PolicyList */
/** @typedef {Counts & { policy: string | null, byPolicy: (Counts & { policy: string | null })[], byDay: (Counts & { day: string })[] }} DryRun */

const app = appRoot();
const listStatus = statusLine();
const list = h('div', { class: 'results' });

const nameInput = input('name', { required: '', pattern: '[a-z0-9][a-z0-9_\\-]{0,63}' });
const retainInput = input('retain', { required: '' });
const editStatus = statusLine();
const editForm = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' },
  field('Name', nameInput, 'Lowercase letters, digits, _ and -.'),
  field('Keep for (ISO-8601 duration)', retainInput, 'For example P90D, P1Y or P6Y.'),
  field('Description', input('description')),
  h('button', { type: 'submit' }, 'Save policy'),
  editStatus,
));

const untilInput = input('until', { type: 'date', required: '' });
const policySelect = select('policy', [['', 'All policies']]);
const simStatus = statusLine();
const simResult = h('div', { class: 'results' });
const simForm = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' },
  field('By date (UTC)', untilInput), field('Policy', policySelect), h('button', { type: 'submit' }, 'Simulate'), simStatus));

app.append(
  section('Policies', listStatus, list),
  section('Create or edit a policy', h('p', {}, 'A change applies to recordings uploaded afterwards; stored recordings keep the retention date they were given.'), editForm),
  section('Simulator', h('p', {}, 'What a retention pass on that date would delete, from the retention dry run. Nothing is changed.'), simForm, simResult),
);

async function loadPolicies() {
  try {
    const r = /** @type {PolicyList} */ (await api('GET', '/v1/retention-policies'));
    const items = r.items;
    say(listStatus, `Uploads without a policy get "${r.defaultPolicy}". The system default "${r.systemDefault.name}" keeps recordings for ${r.systemDefault.retain}.`);
    list.replaceChildren(h('div', { class: 'table-wrap' }, h('table', {},
      h('caption', {}, 'Retention policies of the tenant'),
      h('thead', {}, h('tr', {}, ...['Name', 'Keep for', 'Description', 'Default', 'Changed by', 'Changed at', 'Actions'].map((t) => h('th', { scope: 'col' }, t)))),
      h('tbody', {}, ...items.map((p) => h('tr', {},
        h('th', { scope: 'row' }, p.name), h('td', {}, p.retain), h('td', {}, p.description ?? ''), h('td', {}, p.isDefault ? 'yes' : ''),
        h('td', {}, p.updatedBy), h('td', {}, p.updatedAt),
        h('td', {}, h('button', { type: 'button', onClick: () => edit(p) }, `Edit ${p.name}`)))))),
    ));
    const current = policySelect.value;
    policySelect.replaceChildren(h('option', { value: '' }, 'All policies'), ...items.map((p) => h('option', { value: p.name }, p.name)));
    policySelect.value = items.some((p) => p.name === current) ? current : '';
  } catch (err) {
    say(listStatus, problemText(err), 'error');
  }
}

/** @param {Policy} p */
function edit(p) {
  nameInput.value = p.name;
  retainInput.value = p.retain;
  const description = /** @type {HTMLInputElement} */ (editForm.elements.namedItem('description'));
  description.value = p.description ?? '';
  retainInput.focus();
}

editForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  const v = formValues(editForm);
  try {
    const p = /** @type {Policy} */ (await api('PUT', `/v1/retention-policies/${encodeURIComponent(v.name ?? '')}`, { retain: v.retain, description: v.description ?? null }));
    say(editStatus, `Saved policy ${p.name}: keep for ${p.retain}.`, 'ok');
    await loadPolicies();
    policySelect.value = p.name;
    await simulate();
  } catch (err) {
    say(editStatus, problemText(err), 'error');
  }
});

/**
 * @param {string} caption
 * @param {string} first
 * @param {Array<Counts & { label: string }>} rows
 */
function countsTable(caption, first, rows) {
  return h('div', { class: 'table-wrap' }, h('table', {},
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...[first, 'Would delete', 'Kept on legal hold'].map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...rows.map((r) => h('tr', {}, h('th', { scope: 'row' }, r.label), h('td', {}, String(r.wouldDelete)), h('td', {}, String(r.keptOnHold)))))));
}

async function simulate() {
  if (!untilInput.value) untilInput.value = new Date(Date.now() + 30 * 86_400_000).toISOString().slice(0, 10);
  const q = new URLSearchParams({ until: untilInput.value });
  if (policySelect.value) q.set('policy', policySelect.value);
  say(simStatus, 'Simulating…');
  try {
    const r = /** @type {DryRun} */ (await api('GET', `/v1/retention-dry-run?${q}`));
    const scope = r.policy ? `policy ${r.policy}` : 'all policies';
    say(simStatus, `By ${untilInput.value}, retention would delete ${r.wouldDelete} recording(s) under ${scope}; ${r.keptOnHold} due recording(s) are kept on legal hold.`, 'ok');
    simResult.replaceChildren(
      countsTable('By policy', 'Policy', r.byPolicy.map((p) => ({ ...p, label: p.policy ?? '(none)' }))),
      countsTable('By day the retention ends', 'Day (UTC)', r.byDay.map((d) => ({ ...d, label: d.day }))),
    );
  } catch (err) {
    simResult.replaceChildren();
    say(simStatus, problemText(err), 'error');
  }
}

simForm.addEventListener('submit', (event) => {
  event.preventDefault();
  void simulate();
});

void loadPolicies().then(simulate);
