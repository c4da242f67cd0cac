/**
 * The hostile-input corpus as data: each case is a request (a spec assembled into raw bytes, or
 * the raw bytes themselves) and what the vault may answer. `runCase` sends it over its own TLS
 * connection and returns the reasons it failed the contract: no 5xx ever; refusals are 4xx
 * application/problem+json with status, code and requestId.
 */
import { exchange, type RawExchange, type RawResponse } from './raw-client.js';

/**
 * - a number or list of numbers: exactly that status;
 * - '4xx': any client error;
 * - 'not-5xx': anything but a server error (requests a server may legitimately serve, such as a
 *   Range header it chooses to ignore); a 4xx must still be problem+json;
 * - 'dropped-or-4xx': the connection may end without an answer (a client that hung up).
 */
export type Expectation = number | readonly number[] | '4xx' | 'not-5xx' | 'dropped-or-4xx';

export type HeaderList = ReadonlyArray<readonly [string, string | Buffer]>;

export interface RequestSpec {
  readonly method?: string;
  /** Written as is: percent-encoding, NUL bytes, raw non-UTF-8 bytes are all the case's business. */
  readonly target: string | Buffer;
  readonly headers?: HeaderList;
  readonly token?: string;
  readonly body?: Buffer | string;
  /** 'length' (default when there is a body) adds Content-Length; 'chunked' frames the body; 'none' adds neither. */
  readonly framing?: 'length' | 'chunked' | 'none';
}

export interface HostileCase {
  readonly name: string;
  readonly request: RequestSpec | { readonly raw: Buffer | readonly Buffer[] };
  readonly expect: Expectation;
  /** The problem code the answer must carry, where the contract names one. */
  readonly code?: string;
  /** The client closes the connection as soon as it has written the request. */
  readonly hangUp?: boolean;
  /** A callId (tenant acme) that must have no recording once the exchange is over. */
  readonly leavesNoRecording?: string;
}

export interface CaseResult {
  readonly exchange: RawExchange;
  /** Empty when the case passed. */
  readonly failures: string[];
}

const CRLF = '\r\n';

/** The request as bytes; `Host` and `Connection: close` are added unless the case sets them. */
export function toWire(spec: RequestSpec): Buffer[] {
  const headers: Array<readonly [string, string | Buffer]> = [...(spec.headers ?? [])];
  const has = (name: string): boolean => headers.some(([n]) => n.toLowerCase() === name);
  if (!has('host')) headers.unshift(['Host', 'localhost']);
  if (!has('connection')) headers.push(['Connection', 'close']);
  if (spec.token !== undefined) headers.push(['Authorization', `Bearer ${spec.token}`]);
  const body = spec.body === undefined ? null : Buffer.isBuffer(spec.body) ? spec.body : Buffer.from(spec.body, 'utf8');
  const framing = spec.framing ?? (body ? 'length' : 'none');
  if (framing === 'length' && body && !has('content-length')) headers.push(['Content-Length', String(body.length)]);
  if (framing === 'chunked') headers.push(['Transfer-Encoding', 'chunked']);
  const head = Buffer.concat([
    Buffer.from(`${spec.method ?? 'GET'} `, 'latin1'), Buffer.isBuffer(spec.target) ? spec.target : Buffer.from(spec.target, 'utf8'),
    Buffer.from(` HTTP/1.1${CRLF}`, 'latin1'),
    ...headers.flatMap(([name, value]) => [Buffer.from(`${name}: `, 'latin1'), Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'), Buffer.from(CRLF)]),
    Buffer.from(CRLF),
  ]);
  if (!body) return [head];
  if (framing !== 'chunked') return [head, body];
  return [head, Buffer.from(`${body.length.toString(16)}${CRLF}`), body, Buffer.from(`${CRLF}0${CRLF}${CRLF}`)];
}

function piecesOf(c: HostileCase): readonly Buffer[] {
  if ('raw' in c.request) return Buffer.isBuffer(c.request.raw) ? [c.request.raw] : c.request.raw;
  return toWire(c.request);
}

export async function runCase(server: { url: string; ca: Buffer }, c: HostileCase): Promise<CaseResult> {
  const head = !('raw' in c.request) && c.request.method === 'HEAD';
  const result = await exchange(server, piecesOf(c), { hangUp: c.hangUp, head });
  return { exchange: result, failures: judge(c, result.response, head) };
}

function statusMatches(expect: Expectation, status: number): boolean {
  if (typeof expect === 'number') return status === expect;
  if (Array.isArray(expect)) return expect.includes(status);
  if (expect === 'not-5xx') return status >= 200 && status < 500;
  return status >= 400 && status < 500;
}

export function judge(c: HostileCase, res: RawResponse | null, head = false): string[] {
  if (!res) return c.expect === 'dropped-or-4xx' ? [] : ['no response before the connection ended'];
  if (res.status >= 500) return [`server error ${res.status}: ${res.body.toString('utf8').slice(0, 300)}`];
  const failures: string[] = [];
  if (!statusMatches(c.expect, res.status)) failures.push(`status ${res.status}, expected ${JSON.stringify(c.expect)}`);
  if (res.status >= 400) failures.push(...(head ? headFailures(res) : problemFailures(res, c.code)));
  return failures;
}

/** RFC 9457 as the contract has it; the parser-level refusals (no X-Request-Id) may omit requestId. */
export function problemFailures(res: RawResponse, code?: string): string[] {
  const failures: string[] = [];
  if (!/^application\/problem\+json\b/.test(res.headers['content-type'] ?? '')) failures.push(`content-type ${res.headers['content-type'] ?? '(none)'}`);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(res.body.toString('utf8')) as Record<string, unknown>;
  } catch {
    return [...failures, `body is not JSON: ${res.body.toString('latin1').slice(0, 120)}`];
  }
  if (body.status !== res.status) failures.push(`body status ${String(body.status)} differs from ${res.status}`);
  if (typeof body.code !== 'string' || body.code.length === 0) failures.push('body has no code');
  if (code !== undefined && body.code !== code) failures.push(`code ${String(body.code)}, expected ${code}`);
  const headerId = res.headers['x-request-id'];
  if (headerId !== undefined && body.requestId !== headerId) failures.push(`requestId ${String(body.requestId)} differs from X-Request-Id ${headerId}`);
  if (body.requestId !== undefined && typeof body.requestId !== 'string') failures.push('requestId is not a string');
  return failures;
}

/** A refused HEAD has no body to check, but its type is still the problem's. */
function headFailures(res: RawResponse): string[] {
  return /^application\/problem\+json\b/.test(res.headers['content-type'] ?? '') ? [] : [`content-type ${res.headers['content-type'] ?? '(none)'}`];
}

/** A readable verdict for a failed case. */
export function describeFailure(c: HostileCase, result: CaseResult): string {
  const seen = result.exchange.received.toString('latin1').slice(0, 400).replace(/\r\n/g, ' | ');
  return `${c.name}: ${result.failures.join('; ')} [received: ${seen || '(nothing)'}]`;
}
