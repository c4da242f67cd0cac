// @ts-check
/**
 * Erasure (compliance): one recording, or every recording of a phone number (GDPR Art. 17).
 * Both are irreversible, so each asks the user to type the id or number again before the
 * button works; held recordings are never erased and are listed.
 */
import { api } from './lib/api.js';
import { appRoot, h } from './lib/dom.js';
import { field, input, problemText, say, section, statusLine } from './lib/forms.js';

const app = appRoot();

/**
 * A form whose submit button stays disabled until the confirmation typed matches the target.
 * @param {{ target: HTMLInputElement, targetLabel: string, reason: HTMLInputElement, button: string, run: (target: string, reason: string) => Promise<string> }} spec
 */
function confirmedForm(spec) {
  const confirm = input('confirm', { autocomplete: 'off', spellcheck: 'false' });
  const submit = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit', class: 'danger', disabled: '' }, spec.button));
  const status = statusLine();
  const sync = () => { submit.disabled = spec.target.value.trim() === '' || confirm.value.trim() !== spec.target.value.trim(); };
  spec.target.addEventListener('input', sync);
  confirm.addEventListener('input', sync);
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' },
    field(spec.targetLabel, spec.target),
    field('Reason', spec.reason),
    field(`Type the ${spec.targetLabel.toLowerCase()} again to confirm`, confirm, 'This cannot be undone: the audio and its key are destroyed.'),
    submit, status));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    sync();
    if (submit.disabled) return;
    submit.disabled = true;
    say(status, 'Erasing…');
    try {
      say(status, await spec.run(spec.target.value.trim(), spec.reason.value.trim()), 'ok');
      form.reset();
    } catch (err) {
      say(status, problemText(err), 'error');
    }
    sync();
  });
  return form;
}

const byRecording = confirmedForm({
  target: input('recordingId', { required: '' }), targetLabel: 'Recording id', reason: input('reason'), button: 'Erase this recording',
  run: async (id, reason) => {
    await api('DELETE', `/v1/recordings/${encodeURIComponent(id)}`, reason ? { reason } : {});
    return `Recording ${id} was erased.`;
  },
});

const byPhone = confirmedForm({
  target: input('phone', { required: '', type: 'tel' }), targetLabel: 'Phone number', reason: input('reason', { required: '' }), button: 'Erase every recording of this number',
  run: async (phone, reason) => {
    const r = /** @type {{ erased: number, skippedLegalHold: { callId: string }[], pending: unknown[] }} */ (await api('POST', '/v1/erasures', { phone, reason }));
    const held = r.skippedLegalHold.length ? ` ${r.skippedLegalHold.length} held recording(s) were kept: ${r.skippedLegalHold.map((/** @type {{ callId: string }} */ s) => s.callId).join(', ')}.` : '';
    const pending = r.pending.length ? ` ${r.pending.length} will be finished by the retention worker.` : '';
    return `Erased ${r.erased} recording(s).${held}${pending}`;
  },
});

app.append(
  section('Erase one recording', byRecording),
  section('Erase by phone number', h('p', {}, 'Every active recording of the tenant whose caller or callee is this number, in any formatting. The number itself is never written to the audit log.'), byPhone),
);
