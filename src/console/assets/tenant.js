// @ts-check
/**
 * Tenant settings (admin): the default retention policy (PUT /v1/tenant-settings), the roles that
 * may download recordings (PUT /v1/download-settings; off for every role until an admin says so)
 * and the tenant's own KMS key (POST /v1/keys/rotate with kmsKeyId; needs KEY_PROVIDER=aws-kms).
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
/** The roles that see recordings, the only ones that can be allowed to download them. */
const DOWNLOAD_ROLES = /** @type {const} */ ([['agent', 'Agents may download'], ['supervisor', 'Supervisors may download'], ['compliance', 'Compliance may download']]);
const downloadBoxes = DOWNLOAD_ROLES.map(([role]) => input('downloadRole', { type: 'checkbox', value: role }));
const downloadStatus = statusLine();
const downloadForm = /** @type {HTMLFormElement} */ (h('form', { class: 'filters' },
  ...DOWNLOAD_ROLES.map(([, label], i) => field(label, /** @type {HTMLInputElement} */ (downloadBoxes[i]))),
  h('small', { class: 'hint' }, 'A download is a separate, audited link to the whole file; playback links stay as they are.'),
  h('button', { type: 'submit' }, 'Save download roles'), downloadStatus));
app.append(section('Current settings', current), section('Default policy', policyForm), section('Downloads', downloadForm), section('Tenant KMS key', keyForm));

/** @param {readonly string[]} roles */
function showDownloadRoles(roles) {
  for (const box of downloadBoxes) box.checked = roles.includes(box.value);
}

/** @param {readonly string[]} roles */
const downloadRolesText = (roles) => (roles.length > 0 ? `Download links may be issued to: ${roles.join(', ')}.` : 'Downloads are off for every role.');

/** @typedef {{ tenant: string, defaultPolicy: string, kmsKeyId: string | null, keyProvider: 'local' | 'aws-kms' }} TenantSettings */
/** @typedef {{ roles: string[], allowed: boolean }} DownloadSettings */

/** @param {TenantSettings} s */
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
    const [settings, policies, downloads] = await Promise.all([
      /** @type {Promise<TenantSettings>} */ (api('GET', '/v1/tenant-settings')),
      /** @type {Promise<{ systemDefault: { name: string }, items: { name: string }[] }>} */ (api('GET', '/v1/retention-policies')),
      /** @type {Promise<DownloadSettings>} */ (api('GET', '/v1/download-settings'))]);
    const names = new Set([policies.systemDefault.name, ...policies.items.map((p) => p.name)]);
    policySelect.replaceChildren(...[...names].map((n) => h('option', { value: n }, n)));
    showSettings(settings);
    showDownloadRoles(downloads.roles);
    say(downloadStatus, downloadRolesText(downloads.roles));
  } catch (err) {
    say(policyStatus, problemText(err), 'error');
  }
}

policyForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const s = /** @type {TenantSettings} */ (await api('PUT', '/v1/tenant-settings', { defaultPolicy: policySelect.value }));
    showSettings(s);
    say(policyStatus, `Uploads without a policy now get "${s.defaultPolicy}".`, 'ok');
  } catch (err) {
    say(policyStatus, problemText(err), 'error');
  }
});

downloadForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const s = /** @type {DownloadSettings} */ (await api('PUT', '/v1/download-settings', { roles: downloadBoxes.filter((b) => b.checked).map((b) => b.value) }));
    showDownloadRoles(s.roles);
    say(downloadStatus, downloadRolesText(s.roles), 'ok');
  } catch (err) {
    say(downloadStatus, problemText(err), 'error');
  }
});

keyForm.addEventListener('submit', async (event) => {
  event.preventDefault();
  try {
    const r = /** @type {{ kmsKeyId: string, previous: string | null }} */ (await api('POST', '/v1/keys/rotate', { kmsKeyId: keyInput.value.trim() }));
    say(keyStatus, `The tenant's KMS key is now ${r.kmsKeyId}${r.previous ? ` (was ${r.previous})` : ''}. Run callvault keys rewrap to move existing recordings.`, 'ok');
    await load();
  } catch (err) {
    say(keyStatus, problemText(err), 'error');
  }
});

void load();
