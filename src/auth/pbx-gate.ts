import type { TLSSocket } from 'node:tls';
import type { Config } from '../config/config.js';
import { ForbiddenError } from '../errors.js';
import type { Gate } from './gates.js';

/**
 * Mutual TLS for PBX uploads. The listener asks every client for a certificate but does not
 * refuse the handshake without one (other roles use tokens alone); this gate then requires, on
 * pbx upload routes, a certificate that chains to TLS_CLIENT_CA_FILE. With
 * TLS_PBX_CERT_MUST_MATCH_SUB the certificate must also name the token's subject, as its
 * subject CN or one of its DNS, URI or email SANs, so that a token stolen from one PBX cannot be
 * replayed from another PBX's machine.
 *
 * TLS must terminate at the vault for this to work: behind a TLS-terminating proxy the socket
 * carries no client certificate, and uploads are refused.
 */
export function pbxClientCertificateGate(tls: Config['http']['tls']): Gate | undefined {
  if (!tls.requireClientCertForPbx) return undefined;
  const mustMatchSub = tls.pbxCertMustMatchSub;
  return (req, ctx) => {
    const socket = req.socket as Partial<TLSSocket>;
    if (socket.authorized !== true || typeof socket.getPeerCertificate !== 'function') {
      throw new ForbiddenError('PBX uploads require a client certificate issued by the configured client CA', 'client_certificate_required');
    }
    if (mustMatchSub && !certificateNames(socket.getPeerCertificate()).includes(ctx.principal.sub)) {
      throw new ForbiddenError('The client certificate does not name the token subject', 'client_certificate_mismatch');
    }
  };
}

interface PeerCertificateNames {
  readonly subject?: { readonly CN?: string | string[] } | null;
  readonly subjectaltname?: string;
}

/** The subject CN(s) and the DNS, URI and email SANs of a peer certificate. */
export function certificateNames(cert: PeerCertificateNames): string[] {
  const cn = cert.subject?.CN;
  const names = Array.isArray(cn) ? [...cn] : typeof cn === 'string' ? [cn] : [];
  return [...names, ...parseSubjectAltNames(cert.subjectaltname ?? '')];
}

/**
 * Node renders SANs as `DNS:a, URI:b, email:c`, quoting (JSON-style) any value that contains a
 * comma or quote, so that a crafted name cannot smuggle in a second entry.
 */
export function parseSubjectAltNames(text: string): string[] {
  const out: string[] = [];
  const entry = /(DNS|URI|email|IP Address|othername):("(?:[^"\\]|\\.)*"|[^,]*)(?:, |$)/gy;
  let m: RegExpExecArray | null;
  while ((m = entry.exec(text)) !== null && m[0].length > 0) {
    const [, kind, raw = ''] = m;
    if (kind === 'DNS' || kind === 'URI' || kind === 'email') out.push(unquote(raw));
  }
  return out;
}

function unquote(raw: string): string {
  if (!raw.startsWith('"')) return raw;
  try {
    const value: unknown = JSON.parse(raw);
    return typeof value === 'string' ? value : '';
  } catch {
    return '';
  }
}
