// @ts-check
/** The audit event table and its in-browser verification, shared by the audit and access-history pages. */
import { h } from './dom.js';
import { problemText, say, statusLine } from './forms.js';
import { api } from './api.js';
import { toHex, verifyEvents } from './chain.js';
import { leafHash, parseVerifierKey, verifyCheckpoint, verifyInclusion } from './proofs.js';

/** @typedef {import('./chain.js').AuditEventLine} AuditEventLine */

/**
 * An NDJSON export split into its events and, when the export ends with one, the signed
 * checkpoint line of the per-tenant logs.
 * @param {string} text
 * @returns {{ events: AuditEventLine[], checkpoint: string | null }}
 */
export function parseExport(text) {
  /** @type {AuditEventLine[]} */
  const events = [];
  let checkpoint = null;
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const value = JSON.parse(line);
    if (value && typeof value.checkpoint === 'string') checkpoint = value.checkpoint;
    else events.push(value);
  }
  return { events, checkpoint };
}

/**
 * The byte range a media.read served, as "bytes a–b", or the Range header it was sent.
 * @param {Record<string, unknown>} d
 */
export function rangeText(d) {
  if (typeof d.start === 'number' && typeof d.end === 'number') return `bytes ${d.start}–${d.end}`;
  return typeof d.range === 'string' ? d.range : '';
}

/** @param {AuditEventLine} e */
function actorText(e) {
  const role = e.actorRole ? ` (${e.actorRole})` : '';
  const issuer = typeof e.details.issuedBy === 'string' ? `, link issued by ${e.details.issuedBy}` : '';
  return `${e.actorSub}${role}${issuer}`;
}

/** @param {AuditEventLine} e */
function reasonText(e) {
  const d = e.details;
  const parts = [d.reason, d.note].filter((v) => typeof v === 'string' && v !== '');
  return parts.join(' — ');
}

/** @param {AuditEventLine} e */
function position(e) {
  return typeof e.logSeq === 'number' ? `${e.logSeq}` : `${e.seq ?? ''}`;
}

/**
 * @param {AuditEventLine[]} events
 * @param {string} caption
 */
export function eventTable(events, caption) {
  const head = ['Seq', 'Time (UTC)', 'Actor', 'Action', 'Outcome', 'Recording', 'Byte range', 'Reason', 'Hash'];
  const rows = events.map((e) => h('tr', { 'data-seq': position(e) },
    h('td', {}, position(e)),
    h('td', {}, h('time', { datetime: e.at }, e.at.replace('T', ' ').replace('Z', ''))),
    h('td', {}, actorText(e)),
    h('td', {}, e.action),
    h('td', { class: `outcome-${e.outcome}` }, e.outcome),
    h('td', { class: 'mono' }, e.recordingId ?? ''),
    h('td', {}, rangeText(e.details)),
    h('td', {}, reasonText(e)),
    h('td', { class: 'mono', title: e.hash }, e.hash.slice(0, 12)),
  ));
  return h('div', { class: 'table-wrap' }, h('table', { class: 'events' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, ...head.map((t) => h('th', { scope: 'col' }, t)))),
    h('tbody', {}, ...rows)));
}

/**
 * Events and the signed checkpoint they are proven against; a history read in several pages
 * carries each page's checkpoint in `checkpoints` (each read signs a newer one), and every event
 * is then proven against the one its proof names.
 * @typedef {{ events: AuditEventLine[], checkpoint: string | null, checkpoints?: string[], pinnedKey?: string, recordingChain?: boolean }} Shown
 */

/**
 * Checks what is shown, in this browser: every event's hash and the links between neighbours
 * (lib/chain.js); for events of the per-tenant log, the signed checkpoint under the log's
 * verifier key (a pinned one when given, else the vault's) and each event's inclusion proof in
 * its tree (lib/proofs.js); for a recording's history, that each event names the previous one.
 * @param {Shown} shown
 * @returns {Promise<{ ok: boolean, text: string }>}
 */
export async function verifyShown(shown) {
  const { events, checkpoint } = shown;
  const chain = await verifyEvents(events);
  if (!chain.ok) return { ok: false, text: `Verification FAILED at event ${chain.firstBad ? position(chain.firstBad) : '?'}: ${chain.reason}. The log shown has been altered.` };
  const parts = [`${chain.checked} event hash(es) recomputed from their contents and ${chain.links} link(s) to the event before checked`];
  const logEvents = events.filter((e) => typeof e.logSeq === 'number');
  if (logEvents.length > 0) {
    const notes = shown.checkpoints ?? (checkpoint ? [checkpoint] : []);
    if (notes.length === 0) return { ok: false, text: 'Verification FAILED: events of the tenant log came without their signed checkpoint.' };
    /** @type {Map<number, Awaited<ReturnType<typeof verifyCheckpoint>>>} */
    const bySize = new Map();
    let keyText = shown.pinnedKey ? 'the pinned key' : 'the vault\'s verifier key';
    try {
      const keyString = shown.pinnedKey || /** @type {{ verifierKey: string }} */ (await api('GET', '/v1/audit-checkpoints/verifier-key')).verifierKey;
      const key = await parseVerifierKey(keyString);
      keyText += ` ${key.name}+${toHex(new Uint8Array(key.keyId).buffer)}`;
      for (const note of notes) {
        const signed = await verifyCheckpoint(note, key);
        bySize.set(signed.size, signed);
      }
    } catch (err) {
      return { ok: false, text: `Verification FAILED: ${err instanceof Error ? err.message : String(err)}.` };
    }
    for (const e of logEvents) {
      const proof = /** @type {{ proof?: { treeSize: number, hashes: string[] } }} */ (e).proof;
      const signed = proof && bySize.get(proof.treeSize);
      const included = signed
        && await verifyInclusion((e.logSeq ?? 0) - 1, signed.size, await leafHash(e), proof.hashes, signed.rootHash);
      if (!included) return { ok: false, text: `Verification FAILED at event ${position(e)}: it is not in a signed tree of the size its proof names (${proof?.treeSize ?? 'none'}).` };
    }
    const signed = [...bySize.values()];
    const origins = [...new Set(signed.map((c) => c.origin))];
    if (origins.length !== 1) return { ok: false, text: `Verification FAILED: the checkpoints shown belong to different logs (${origins.join(', ')}).` };
    const sizes = signed.map((c) => c.size).join(', ');
    parts.push(`${logEvents.length} event(s) proven included in the checkpoint${signed.length > 1 ? 's' : ''} of ${origins[0]} at size ${sizes}, whose Ed25519 signature${signed.length > 1 ? 's verify' : ' verifies'} under ${keyText}`);
  }
  if (shown.recordingChain) {
    let previous = /** @type {number | null} */ (null);
    for (const e of logEvents) {
      if ((e.recordingPrev ?? null) !== previous) return { ok: false, text: `Verification FAILED at event ${position(e)}: an earlier event about this recording is missing.` };
      previous = e.logSeq ?? null;
    }
    if (logEvents.length > 0) parts.push('no event about the recording is missing between them');
  }
  return { ok: true, text: `Verified in this browser: ${parts.join('; ')}; all match.` };
}

/**
 * Verifies what is shown and writes the result into `el`.
 * @param {HTMLElement} el
 * @param {Shown} shown
 */
export async function showVerification(el, shown) {
  el.textContent = 'Verifying the events shown…';
  el.setAttribute('data-kind', 'info');
  const result = await verifyShown(shown);
  el.textContent = result.text;
  el.setAttribute('data-kind', result.ok ? 'ok' : 'error');
  el.setAttribute('data-verified', result.ok ? 'ok' : 'failed');
  return result;
}

/**
 * An optional verifier key the user holds (kept apart from the vault), for checking signatures
 * against it instead of the key the vault serves. Kept in this page only.
 * @param {() => void} onChange
 */
export function pinnedKeyControl(onChange) {
  const id = 'pinned-key';
  const control = /** @type {HTMLInputElement} */ (h('input', { id, name: 'pinnedKey', type: 'text', autocomplete: 'off', spellcheck: 'false', size: 60 }));
  const element = h('details', { class: 'pinned-key' },
    h('summary', {}, 'Verify against a key you hold'),
    h('label', { for: id }, 'Verifier key (name+id+key, as published for this log)'), ' ', control, ' ',
    h('button', { type: 'button', onClick: onChange }, 'Verify again'));
  return { element, value: () => control.value.trim() };
}

/**
 * The events part of an audit page: the table, its count, its verification in this browser and
 * the pinned-key control, kept in step. On a failed load nothing of the previous events stays,
 * not even their verification, so no "Verified" text stands beside an empty table.
 * @param {{ empty: string, count: (n: number) => string }} text what the status line says
 */
export function eventsPanel(text) {
  const verification = h('p', { class: 'verification', role: 'status', 'aria-live': 'polite' });
  /** @type {Shown} */
  let shown = { events: [], checkpoint: null };
  const verify = () => showVerification(verification, { ...shown, pinnedKey: pinned.value() });
  const pinned = pinnedKeyControl(() => void verify());
  const status = statusLine();
  const results = h('div', { class: 'results' });

  /**
   * Loads events with `fetch` and shows them under `caption`, calling `onShown` with them before
   * they are verified; resolves to whether they loaded.
   * @param {() => Promise<Shown>} fetch
   * @param {(events: AuditEventLine[]) => string} caption
   * @param {(events: AuditEventLine[]) => void} [onShown]
   * @returns {Promise<boolean>}
   */
  async function show(fetch, caption, onShown) {
    say(status, 'Loading…');
    try {
      shown = await fetch();
      const { events } = shown;
      results.replaceChildren(eventTable(events, caption(events)));
      say(status, events.length === 0 ? text.empty : text.count(events.length));
      onShown?.(events);
      await verify();
      return true;
    } catch (err) {
      shown = { events: [], checkpoint: null };
      results.replaceChildren();
      verification.textContent = '';
      verification.removeAttribute('data-kind');
      verification.removeAttribute('data-verified');
      say(status, problemText(err), 'error');
      return false;
    }
  }
  return { verification, pinned: pinned.element, status, results, show };
}
