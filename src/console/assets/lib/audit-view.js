// @ts-check
/** The audit event table and its in-browser verification, shared by the audit and access-history pages. */
import { h } from './dom.js';
import { verifyEvents } from './chain.js';

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
 * Verifies what is shown and writes the result into `el`.
 * @param {HTMLElement} el
 * @param {AuditEventLine[]} events
 * @returns {Promise<import('./chain.js').ChainResult>}
 */
export async function showVerification(el, events) {
  el.textContent = 'Verifying the hashes of the events shown…';
  el.setAttribute('data-kind', 'info');
  const result = await verifyEvents(events);
  if (result.ok) {
    el.textContent = `Verified in this browser: ${result.checked} event hash(es) recomputed from their contents and ${result.links} link(s) to the event before checked; all match.`;
    el.setAttribute('data-kind', 'ok');
  } else {
    const at = result.firstBad ? position(result.firstBad) : '?';
    el.textContent = `Verification FAILED at event ${at}: ${result.reason}. The log shown has been altered.`;
    el.setAttribute('data-kind', 'error');
  }
  el.setAttribute('data-verified', result.ok ? 'ok' : 'failed');
  return result;
}
