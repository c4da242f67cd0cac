// @ts-check
/**
 * One recording: its metadata, parties, agent, tags, retention and hold; listening, which asks
 * for a reason (required, remembered for this recording for the session) and goes through a
 * normal audited link; and downloading, when the tenant allows it for one of the user's roles.
 */
import { api, ApiError, principal } from './lib/api.js';
import { h, mount } from './lib/dom.js';
import { formatBytes, formatDate, formatTime } from './lib/format.js';
import { problemText, say } from './lib/forms.js';
import { rememberReason, rememberedReason } from './lib/reasons.js';
import { useStylesheet } from './lib/styles.js';
import { createPlayer } from './player.js';

/**
 * @typedef {{ id: string, callId: string, sha256: string, sizeBytes: number, contentType: string, policy: string | null,
 *   retainUntil: string | null, createdAt: string, legalHold: boolean, legalHoldReason?: string | null, legalHoldCaseId?: string | null,
 *   startedAt: string | null, durationSeconds: number | null, direction: string | null, from: string | null, to: string | null,
 *   agentId: string | null, tags: string[] }} Recording
 * @typedef {{ linkId: string, url: string, expiresAt: string }} IssuedLink
 */

const app = /** @type {HTMLElement} */ (document.getElementById('app'));
/** The page is served at /console/recordings/{id}. */
const id = decodeURIComponent(location.pathname.split('/').pop() ?? '');
// The API decides; this only hides a form the role table would refuse (link:issue is the supervisor's).
const mayListen = principal().roles.includes('supervisor');
// Likewise audit:export, the compliance officer's: the access history page of the audit pages.
const mayAudit = principal().roles.includes('compliance');

/** @type {import('./player.js').Player | null} */
let player = null;

/**
 * @param {string} label
 * @param {string | Node} value
 * @returns {HTMLElement[]}
 */
function item(label, value) {
  return [h('dt', {}, label), h('dd', {}, value)];
}

/**
 * @param {string} title
 * @param {HTMLElement[][]} items
 */
function section(title, items) {
  return h('section', { class: 'facts' }, h('h2', {}, title), h('dl', {}, ...items.flat()));
}

/** @param {Recording} r */
function renderFacts(r) {
  const hold = r.legalHold
    ? [item('Legal hold', 'On hold'), item('Case', r.legalHoldCaseId ?? '–'), item('Hold reason', r.legalHoldReason ?? '–')]
    : [item('Legal hold', 'Not on hold')];
  return [
    section('Call', [
      item('Call id', r.callId), item('Started', formatDate(r.startedAt)), item('Duration', formatTime(r.durationSeconds)),
      item('Direction', r.direction ?? '–'),
    ]),
    section('Parties', [item('From (caller)', r.from ?? '–'), item('To (callee)', r.to ?? '–'), item('Agent', r.agentId ?? '–')]),
    section('Tags', [item('Tags', r.tags.length ? r.tags.join(', ') : 'None')]),
    section('Retention and hold', [
      item('Policy', r.policy ?? 'Tenant default'), item('Retained until', formatDate(r.retainUntil)), ...hold,
    ]),
    section('Stored file', [
      item('Recording id', r.id), item('Stored', formatDate(r.createdAt)), item('Format', r.contentType),
      item('Size', formatBytes(r.sizeBytes)), item('SHA-256', h('code', {}, r.sha256)),
    ]),
  ];
}

/**
 * The listen (and download) form: one reason, required, for whichever access follows.
 * @param {Recording} r
 * @param {boolean} mayDownload
 */
function renderAccess(r, mayDownload) {
  const status = h('p', { class: 'status', role: 'status' });
  const playerBox = h('div', { class: 'player-box' });
  const reason = /** @type {HTMLInputElement} */ (h('input', {
    id: 'listen-reason', name: 'reason', type: 'text', required: 'required', minlength: '3', maxlength: '500', autocomplete: 'off',
  }));
  reason.value = rememberedReason(r.id);

  /** @param {'links' | 'downloads'} kind */
  const issue = async (kind) => {
    const text = reason.value.trim();
    if (text.length < 3) {
      say(status, 'Give a reason of at least 3 characters.', 'error');
      reason.focus();
      return null;
    }
    rememberReason(r.id, text);
    try {
      // A download is fetched once, at once: its link is single-use and short-lived.
      const body = kind === 'downloads' ? { reason: text, singleUse: true, ttlSeconds: 60 } : { reason: text };
      const link = /** @type {IssuedLink} */ (await api('POST', `/v1/recordings/${encodeURIComponent(r.id)}/${kind}`, body));
      // Same origin as this page, whatever host name the vault put in the link.
      return new URL(link.url).pathname;
    } catch (err) {
      say(status, `The link could not be issued: ${problemText(err)}`, 'error');
      return null;
    }
  };

  const listen = async () => {
    const src = await issue('links');
    if (!src) return;
    player?.destroy();
    player = createPlayer({
      recordingId: r.id, src, durationSeconds: r.durationSeconds,
      onError: (message) => { say(status, `${message} Choose Listen to get a new link (the same reason is used).`, 'error'); },
      renewSource: async () => {
        const renewed = await issue('links');
        if (renewed) say(status, 'The link expired; a new one was issued with the same reason, and playback goes on.');
        return renewed;
      },
    });
    mount(playerBox, player.root);
    say(status, 'Ready. The link and every range played are audited.');
    player.audio.focus();
  };

  const download = async () => {
    const src = await issue('downloads');
    if (!src) return;
    const anchor = h('a', { href: src, download: '' });
    document.body.append(anchor);
    anchor.click();
    anchor.remove();
    say(status, 'Download started; it is audited as a download.');
  };

  const form = h('form', { class: 'listen', onSubmit: (/** @type {Event} */ e) => { e.preventDefault(); void (mayListen ? listen() : download()); } },
    h('label', { for: 'listen-reason' }, 'Reason for access (required, recorded in the audit log)'),
    reason,
    h('div', { class: 'actions' },
      ...(mayListen ? [h('button', { type: 'submit' }, 'Listen')] : []),
      ...(mayDownload ? [h('button', { type: 'button', class: 'secondary', onClick: () => void download() }, 'Download')] : [])));
  const title = mayListen ? 'Listen' : 'Download';
  return h('section', { class: 'access', 'aria-label': title }, h('h2', {}, title), form, status, playerBox);
}

async function downloadAllowed() {
  try {
    const settings = /** @type {{ allowed: boolean }} */ (await api('GET', '/v1/download-settings'));
    return settings.allowed === true;
  } catch {
    return false;
  }
}

async function main() {
  useStylesheet('review.css');
  if (!id) {
    mount(app, h('h1', { id: 'page-title' }, 'Recording'), h('p', {}, 'No recording was named.'), h('a', { href: '/console/recordings' }, 'Back to search'));
    return;
  }
  try {
    const [r, mayDownload] = await Promise.all([/** @type {Promise<Recording>} */ (api('GET', `/v1/recordings/${encodeURIComponent(id)}`)), downloadAllowed()]);
    mount(app,
      h('p', {}, h('a', { href: '/console/recordings' }, '← Back to search')),
      h('h1', { id: 'page-title' }, `Call ${r.callId}`),
      mayAudit && h('p', {}, h('a', { href: `/console/access-history?recording=${encodeURIComponent(r.id)}` }, 'Who accessed this recording')),
      ...(mayListen || mayDownload ? [renderAccess(r, mayDownload)] : []),
      h('div', { class: 'facts-grid' }, ...renderFacts(r)));
  } catch (err) {
    const message = err instanceof ApiError && err.status === 404 ? 'There is no such recording, or it is not yours to see.' : 'The recording could not be loaded.';
    mount(app, h('h1', { id: 'page-title' }, 'Recording'), h('p', { role: 'alert' }, message), h('a', { href: '/console/recordings' }, 'Back to search'));
  }
  app.dataset.ready = 'true';
}

await main();
