// @ts-check
/**
 * A recording's access history (compliance): every event about one recording, oldest first,
 * verified in the browser, with who issued links, for what reason, and which byte ranges were read.
 */
import { api, apiText } from './lib/api.js';
import { appRoot, h } from './lib/dom.js';
import { eventsPanel, parseExport } from './lib/audit-view.js';
import { field, input, section } from './lib/forms.js';

/** The most events the route answers in one page. */
const PAGE_SIZE = 10_000;

const app = appRoot();
const idInput = input('recording', { required: '' });
const form = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' }, field('Recording id', idInput), h('button', { type: 'submit' }, 'Show history')));
const summary = h('p', { class: 'summary' });
const panel = eventsPanel({ empty: 'No events for this recording.', count: (n) => `${n} event(s).` });
app.append(section('Recording', form), section('History', panel.verification, panel.pinned, panel.status, summary, panel.results));

/**
 * The recording's whole history from the tenant log, page after page, each page with inclusion
 * proofs and the checkpoint signed for it; for a recording known only to the single chain before the log began, its events from
 * the export.
 * @param {string} id
 * @returns {Promise<import('./lib/audit-view.js').Shown>}
 */
async function historyOf(id) {
  try {
    /** @type {import('./lib/audit-view.js').Shown['events']} */
    const events = [];
    /** @type {string[]} */
    const checkpoints = [];
    let after = 0;
    // The route answers at most `limit` events a page and names the last one in `next` while more exist.
    for (;;) {
      const q = new URLSearchParams({ after: String(after), limit: String(PAGE_SIZE) });
      const r = /** @type {{ events: import('./lib/audit-view.js').Shown['events'], checkpoint: { checkpoint: string }, next: number | null }} */ (
        await api('GET', `/v1/recordings/${encodeURIComponent(id)}/access-history?${q}`));
      events.push(...r.events);
      checkpoints.push(r.checkpoint.checkpoint);
      if (r.next === null) break;
      after = r.next;
    }
    return { events, checkpoint: checkpoints[checkpoints.length - 1] ?? null, checkpoints, recordingChain: true };
  } catch (err) {
    if (/** @type {{ status?: number }} */ (err).status !== 404) throw err;
    const q = new URLSearchParams({ recordingId: id, order: 'asc' });
    return parseExport(await apiText('GET', `/v1/audit-events?${q}`));
  }
}

/** @param {string} id */
async function load(id) {
  summary.textContent = '';
  await panel.show(() => historyOf(id), () => `Access history of recording ${id}, oldest first`, (events) => {
    const count = (/** @type {string} */ action) => events.filter((e) => e.action === action).length;
    summary.textContent = `${count('link.issued')} link(s) issued, ${count('media.read')} read(s) of the audio, ${count('recording.viewed')} view(s) of the metadata.`;
  });
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const id = idInput.value.trim();
  if (!id) return;
  history.replaceState(null, '', `?recording=${encodeURIComponent(id)}`);
  void load(id);
});

const initial = new URLSearchParams(location.search).get('recording');
if (initial) {
  idInput.value = initial;
  void load(initial);
}
