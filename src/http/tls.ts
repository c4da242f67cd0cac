import { webcrypto } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/config.js';
import { createIfMissing, readPrivateFile } from '../config/secrets.js';

/**
 * The embedded TLS identity: a self-signed EC P-256 / SHA-256 certificate for localhost and
 * 127.0.0.1, created once under the data directory. Clients pin it with `--cacert`.
 */
export async function ensureSelfSignedCertificate(certFile: string, keyFile: string): Promise<void> {
  const exists = await readFile(certFile).then(() => true, () => false);
  if (exists) return;
  // Loaded only on first start, when a certificate has to be made.
  await import('reflect-metadata');
  const x509 = await import('@peculiar/x509');
  x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify']);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1'),
    name: 'CN=localhost, O=callvault embedded',
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 825 * 86_400_000),
    signingAlgorithm: alg,
    keys: keys as unknown as Parameters<typeof x509.X509CertificateGenerator.createSelfSigned>[0]['keys'],
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth], false),
      new x509.SubjectAlternativeNameExtension([
        { type: 'dns', value: 'localhost' }, { type: 'ip', value: '127.0.0.1' }, { type: 'ip', value: '::1' },
      ]),
    ],
  });
  const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${Buffer.from(pkcs8).toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
  await createIfMissing(keyFile, () => keyPem);
  await createIfMissing(certFile, () => cert.toString('pem') + '\n');
}

export interface TlsMaterial { readonly cert: Buffer; readonly key: Buffer; readonly ca?: Buffer }

export async function loadTls(cfg: Config['http']['tls']): Promise<TlsMaterial> {
  if (cfg.cert.generate) await ensureSelfSignedCertificate(cfg.cert.file, cfg.key.file);
  return {
    cert: await readFile(cfg.cert.file),
    key: await readPrivateFile(cfg.key.file, 'TLS_KEY_FILE'),
    ca: cfg.clientCaFile ? await readFile(cfg.clientCaFile) : undefined,
  };
}
