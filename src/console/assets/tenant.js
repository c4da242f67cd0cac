// @ts-check
/**
 * Tenant settings (admin): the default retention policy (PUT /v1/tenant-settings) and the
 * tenant's own KMS key (POST /v1/keys/rotate with kmsKeyId; needs KEY_PROVIDER=aws-kms).
 */
import { api } from './lib/api.js';
import { appRoot, h } from './lib/dom.js';
import { field, input, problemText, say, section, select, statusLine } from './lib/forms.js';

const app = appRoot();
const current = h('dl', { class: 'facts' });
const policySelect = select('defaultPolicy', []);
const policyStatus = statusLine();
const policyForm = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' },
  field('Default retention policy', policySelect, 'Applies to uploads that name no policy, from now on.'),
  h('button', { type: 'submit' }, 'Save default policy'), policyStatus));
const keyInput = input('kmsKeyId', { required: '' });
const keyButton = /** @type {HTMLButtonElement} */ (h('button', { type: 'submit' }, 'Use this KMS key'));
const keyStatus = statusLine();
const keyForm = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' },
  field('KMS key id, ARN or alias', keyInput, 'New recordings of the tenant are encrypted under it at once; existing keys move with callvault keys rewrap.'),
  keyButton, keyStatus));
app.append(section('Current settings', current), section('Default policy', policyForm), section('Tenant KMS key', keyForm));

/** @param {{ tenant: string, defaultPolicy: string, kmsKeyId: string | null, keyProvider: 'local' | 'aws-kms' }} s */
function showSettings(s) {
  const byok = s.keyProvider === 'aws-kms';
  keyInput.disabled = !byok;
  keyButton.disabled = !byok;
  if (!byok) say(keyStatus, 'This vault wraps data keys with its local master key (KEY_PROVIDER=local): a tenant KMS key needs KEY_PROVIDER=aws-kms.');
  current.replaceChildren(
    h('dt', {}, 'Tenant'), h('dd', {}, s.tenant),
    h('dt', {}, 'Default policy'), h('dd', {}, s.defaultPolicy),
    h('dt', {}, 'Key provider'), h('dd', {}, s.keyProvider),
    h('dt', {}, 'KMS key'), h('dd', {}, s.kmsKeyId ?? (s.keyProvider === 'aws-kms' ? 'the deployment\'s KMS_KEY_ID' : 'none: the local master key')));
  policySelect.value = s.defaultPolicy;
}

async function load() {
  try {
    const [settings, policies] = await Promise.all([api('GET', '/v1/tenant-settings'), api('GET', '/v1/retention-policies')]);
    const names = new Set([policies.systemDefault.name, ...policies.items.map((/** @type {{ name: string }} */ p) => p.name)]);
    policySelect.replaceChildren(...[...names].map((n) => h('option', { value: n }, n)));
    showSettings(settings);
  } catch (err) {
    say(policyStatus, problemText(err), 'error');
  }
}

policyForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const s = await api('PUT', '/v1/tenant-settings', { defaultPolicy: policySelect.value });
    showSettings(s);
    say(policyStatus, `Uploads without a policy now get "${s.defaultPolicy}".`, 'ok');
  } catch (err) {
    say(policyStatus, problemText(err), 'error');
  }
});

keyForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const r = await api('POST', '/v1/keys/rotate', { kmsKeyId: keyInput.value.trim() });
    say(keyStatus, `The tenant's KMS key is now ${r.kmsKeyId}${r.previous ? ` (was ${r.previous})` : ''}. Run callvault keys rewrap to move existing recordings.`, 'ok');
    await load();
  } catch (err) {
    say(keyStatus, problemText(err), 'error');
  }
});

void load();
