// @ts-check
/**
 * A recording's access history (compliance): every event about one recording, oldest first,
 * verified in the browser, with who issued links, for what reason, and which byte ranges were read.
 */
import { apiText } from './lib/api.js';
import { appRoot, h } from './lib/dom.js';
import { eventTable, parseExport, showVerification } from './lib/audit-view.js';
import { field, input, problemText, say, section, statusLine } from './lib/forms.js';

const app = appRoot();
const idInput = input('recording', { required: '' });
const form = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' }, field('Recording id', idInput), h('button', { type: 'submit' }, 'Show history')));
const summary = h('p', { class: 'summary' });
const verification = h('p', { class: 'verification', role: 'status', 'aria-live': 'polite' });
const status = statusLine();
const results = h('div', { class: 'results' });
app.append(section('Recording', form), section('History', verification, status, summary, results));

/** @param {string} id */
async function load(id) {
  say(status, 'Loading…');
  summary.textContent = '';
  try {
    const q = new URLSearchParams({ recordingId: id, order: 'asc' });
    const { events } = parseExport(await apiText('GET', `/v1/audit-events?${q}`));
    const count = (/** @type {string} */ action) => events.filter((e) => e.action === action).length;
    summary.textContent = `${count('link.issued')} link(s) issued, ${count('media.read')} read(s) of the audio, ${count('recording.viewed')} view(s) of the metadata.`;
    results.replaceChildren(eventTable(events, `Access history of recording ${id}, oldest first`));
    say(status, events.length === 0 ? 'No events for this recording.' : `${events.length} event(s).`);
    await showVerification(verification, events);
  } catch (err) {
    results.replaceChildren();
    say(status, problemText(err), 'error');
  }
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
