// @ts-check
/**
 * Calling the vault's /v1 API from a console page. The session cookie authenticates (same
 * origin); every state-changing request carries the session's CSRF token from the shell's
 * <meta name="csrf-token">. Errors arrive as problem+json and are thrown as ApiError. A 401
 * means the session ended (signed out elsewhere, idle, or too old): the page goes to sign-in.
 */

export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} title
   * @param {string} detail
   * @param {string | null} requestId
   */
  constructor(status, code, title, detail, requestId) {
    super(detail || title);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.title = title;
    this.detail = detail;
    this.requestId = requestId;
  }
}

/**
 * @param {string} name
 * @returns {string}
 */
function meta(name) {
  const el = document.querySelector(`meta[name="${name}"]`);
  return el?.getAttribute('content') ?? '';
}

export function csrfToken() {
  return meta('csrf-token');
}

/**
 * @typedef {{ sub: string, tenant: string, roles: string[] }} ConsolePrincipal
 * @returns {ConsolePrincipal}
 */
export function principal() {
  const parsed = JSON.parse(meta('console-principal') || '{}');
  return {
    sub: typeof parsed.sub === 'string' ? parsed.sub : '',
    tenant: typeof parsed.tenant === 'string' ? parsed.tenant : '',
    roles: Array.isArray(parsed.roles) ? parsed.roles.filter((/** @type {unknown} */ r) => typeof r === 'string') : [],
  };
}

const IDLE_SECONDS = Number(meta('console-idle-timeout')) || 0;
/** @type {ReturnType<typeof setTimeout> | undefined} */
let idleTimer;

/** To the sign-in page, which brings the user back here afterwards (src/console/return-to.ts checks the path). */
function signInAgain() {
  const here = window.location.pathname + window.location.search + window.location.hash;
  window.location.assign(`/console/sign-in?return=${encodeURIComponent(here)}`);
}

/**
 * Automatic logoff on screen: the server ends a session idle for CONSOLE_IDLE_TIMEOUT; the page
 * leaves for the sign-in page at the same moment, so nothing stays displayed after it.
 */
function restartIdleTimer() {
  if (IDLE_SECONDS <= 0) return;
  clearTimeout(idleTimer);
  idleTimer = setTimeout(signInAgain, IDLE_SECONDS * 1000 + 1000);
}
restartIdleTimer();

/**
 * Tells the vault the user is still at work without an API call (listening, for instance), so
 * the session and the page's own logoff timer both count from now.
 * @returns {Promise<void>}
 */
export async function reportActivity() {
  await send('POST', '/console/activity');
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 * @param {Record<string, string>} [headers]
 * @returns {Promise<Response>}
 */
async function send(method, path, body, headers = {}) {
  /** @type {Record<string, string>} */
  const all = { ...headers };
  if (method !== 'GET' && method !== 'HEAD') all['X-CSRF-Token'] = csrfToken();
  if (body !== undefined) all['Content-Type'] = 'application/json';
  const res = await fetch(path, {
    method, headers: all, credentials: 'same-origin', cache: 'no-store', redirect: 'error',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  restartIdleTimer();
  if (res.ok) return res;
  throw await problemOf(res);
}

/**
 * @param {Response} res
 * @returns {Promise<ApiError>}
 */
async function problemOf(res) {
  let problem = /** @type {Record<string, unknown>} */ ({});
  try {
    problem = await res.json();
  } catch {
    // not problem+json: the status says enough
  }
  const text = (/** @type {string} */ key) => (typeof problem[key] === 'string' ? /** @type {string} */ (problem[key]) : '');
  if (res.status === 401) signInAgain();
  return new ApiError(res.status, text('code') || 'http_error', text('title') || res.statusText, text('detail'), text('requestId') || null);
}

/**
 * A JSON API call: the parsed body, or null for 204. The body is unknown here: each caller
 * states the shape it expects of its endpoint (openapi.yaml).
 * @param {'GET' | 'POST' | 'PUT' | 'DELETE'} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<unknown>}
 */
export async function api(method, path, body) {
  const res = await send(method, path, body, { Accept: 'application/json, application/problem+json' });
  if (res.status === 204) return null;
  return res.json();
}

/**
 * A call whose answer is text (CSV).
 * @param {'GET' | 'POST'} method
 * @param {string} path
 * @param {unknown} [body]
 * @returns {Promise<string>}
 */
export async function apiText(method, path, body) {
  const res = await send(method, path, body);
  return res.text();
}

/**
 * An NDJSON answer, one parsed object per line as it streams in.
 * @param {string} path
 * @param {(item: unknown) => void} onItem
 * @returns {Promise<number>} how many items arrived
 */
export async function apiStream(path, onItem) {
  const res = await send('GET', path, undefined, { Accept: 'application/x-ndjson' });
  if (!res.body) return 0;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  let count = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (value) buffered += value;
    let nl;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      if (line) { onItem(JSON.parse(line)); count++; }
    }
    if (done) break;
  }
  if (buffered.trim()) { onItem(JSON.parse(buffered)); count++; }
  return count;
}
