/**
 * A throwaway client PKI for mutual-TLS tests: a CA and client certificates it issues, made with
 * @peculiar/x509 over WebCrypto (as src/http/tls.ts does for the server certificate).
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0]);

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
type Keys = x509.X509CertificateCreateSelfSignedParams['keys'];
type WithKey = x509.X509CertificateCreateWithKeyParams;

export interface Issued { readonly certPem: string; readonly keyPem: string }
export interface Authority extends Issued {
  issue(opts: { cn: string; sans?: ReadonlyArray<{ type: 'dns' | 'url' | 'email'; value: string }>; expired?: boolean }): Promise<Issued>;
}

const serial = (): string => Buffer.from(webcrypto.getRandomValues(new Uint8Array(16))).toString('hex').replace(/^[89a-f]/, '1');

async function keyPair(): Promise<webcrypto.CryptoKeyPair> {
  return webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify']) as Promise<webcrypto.CryptoKeyPair>;
}

async function privatePem(key: webcrypto.CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n?$/, '\n')}-----END PRIVATE KEY-----\n`;
}

export async function createAuthority(name = 'CN=PBX Client CA, O=callvault tests'): Promise<Authority> {
  const keys = await keyPair();
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(), name, notBefore: new Date(now - 60_000), notAfter: new Date(now + 86_400_000),
    signingAlgorithm: ALG, keys: keys as unknown as Keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ],
  });
  return {
    certPem: ca.toString('pem') + '\n',
    keyPem: await privatePem(keys.privateKey),
    issue: async ({ cn, sans = [], expired = false }) => {
      const leaf = await keyPair();
      const t = Date.now();
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: serial(), subject: `CN=${cn}`, issuer: ca.subject,
        notBefore: new Date(t - (expired ? 2 * 86_400_000 : 60_000)), notAfter: new Date(expired ? t - 86_400_000 : t + 86_400_000),
        signingAlgorithm: ALG, publicKey: leaf.publicKey as unknown as WithKey['publicKey'],
        signingKey: keys.privateKey as unknown as WithKey['signingKey'],
        extensions: [
          new x509.BasicConstraintsExtension(false, undefined, true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.clientAuth], false),
          ...(sans.length > 0 ? [new x509.SubjectAlternativeNameExtension(sans.map((s) => ({ type: s.type, value: s.value })))] : []),
        ],
      });
      return { certPem: cert.toString('pem') + '\n', keyPem: await privatePem(leaf.privateKey) };
    },
  };
}
