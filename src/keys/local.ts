import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { promises as fs, constants as fsConstants } from 'node:fs';
import path from 'node:path';
import { ConflictError, DependencyError } from '../errors.js';
import { canonicalContext } from './context.js';
import { isErrno } from '../lib/errno.js';
import { CHECK_MODES, MASTER_KEY_BYTES, readMasterKey, syncDir } from './local-files.js';
import { KeyAccessError, KeyConfigError } from './errors.js';
import type { DataKey, EncryptionContext, KeyProvider } from './types.js';

/*
 * Master keys on disk: `<dir>/master-v<N>.key`, each exactly 32 raw random bytes (no encoding, no
 * newline), mode 0600, in a directory nobody but the owner may write. The highest N is current.
 *
 * Wrapped data key (61 bytes): 0x01 | 12-byte random nonce | 32-byte ciphertext | 16-byte tag,
 * AES-256-GCM under master v<N> with the canonical encryption context as associated data, so a
 * wrapped key copied to another recording's row does not unwrap. Its keyRef is `local:v<N>`.
 */
const KEY_FILE = /^master-v([1-9]\d{0,8})\.key$/;
const KEY_REF = /^local:v([1-9]\d{0,8})$/;
const DATA_KEY_BYTES = 32;
const WRAP_FORMAT = 0x01;
const NONCE_BYTES = 12;
const TAG_BYTES = 16;
const WRAPPED_BYTES = 1 + NONCE_BYTES + DATA_KEY_BYTES + TAG_BYTES;
const ROTATE_ATTEMPTS = 5;

/**
 * Versioned master keys held in files, for embedded and on-premises use. `masterKeyId` options
 * (tenant BYOK) are ignored: the local provider has a single key hierarchy.
 */
export class LocalKeyProvider implements KeyProvider {
  readonly kind = 'local' as const;
  private keys = new Map<number, Buffer>();
  private closed = false;

  private constructor(private readonly dir: string) {}

  /** Loads every version in `dir`; with `create`, makes the directory and v1 when none exist. */
  static async open(dir: string, opts: { create: boolean }): Promise<LocalKeyProvider> {
    const provider = new LocalKeyProvider(path.resolve(dir));
    await provider.prepareDir(opts.create);
    await provider.reload();
    if (provider.keys.size === 0) {
      if (!opts.create) throw new KeyConfigError(`No master key file (master-v<N>.key) in ${provider.dir}`);
      // Another process opening the same directory may win the race for v1; then use its key.
      if (!(await provider.writeVersion(1))) await provider.reload();
    }
    return provider;
  }

  /** Master key versions currently loaded, ascending. */
  versions(): number[] {
    return [...this.keys.keys()].sort((a, b) => a - b);
  }

  currentKeyRef(_opts?: { masterKeyId?: string }): string {
    return `local:v${this.currentVersion()}`;
  }

  async generateDataKey(ctx: EncryptionContext, _opts?: { masterKeyId?: string }): Promise<DataKey> {
    return this.generateWith(this.currentVersion(), ctx);
  }

  /**
   * A data key wrapped under the named version (the one key_versions holds active), loading its
   * file if another process wrote it after this one last looked.
   */
  async generateDataKeyUnder(keyRef: string, ctx: EncryptionContext): Promise<DataKey> {
    return this.generateWith(await this.loadedVersion(keyRef), ctx);
  }

  /** rewrap, to the named version rather than the newest file. */
  async rewrapUnder(wrapped: Buffer, ctx: EncryptionContext, keyRef: string, targetKeyRef: string): Promise<{ wrapped: Buffer; keyRef: string }> {
    const version = await this.loadedVersion(targetKeyRef);
    const plaintext = await this.decryptDataKey(wrapped, ctx, keyRef);
    try {
      return { wrapped: this.wrap(plaintext, ctx, version), keyRef: `local:v${version}` };
    } finally {
      plaintext.fill(0);
    }
  }

  async decryptDataKey(wrapped: Buffer, ctx: EncryptionContext, keyRef: string): Promise<Buffer> {
    const version = parseKeyRef(keyRef);
    if (!this.keys.has(version)) await this.reload();
    // Looked up and used in one synchronous step: a retire() may wipe the buffer at any await.
    return unwrap(this.masterKey(version, keyRef), wrapped, ctx);
  }

  async rewrap(
    wrapped: Buffer,
    ctx: EncryptionContext,
    keyRef: string,
    _opts?: { masterKeyId?: string },
  ): Promise<{ wrapped: Buffer; keyRef: string }> {
    return this.rewrapUnder(wrapped, ctx, keyRef, this.currentKeyRef());
  }

  /** Adds master v<N+1> and makes it current; returns its keyRef. Existing wrapped keys keep working. */
  async rotate(): Promise<string> {
    this.assertOpen();
    for (let attempt = 0; attempt < ROTATE_ATTEMPTS; attempt++) {
      await this.reload();
      if (await this.writeVersion(this.highestVersion() + 1)) return this.currentKeyRef();
    }
    throw new KeyConfigError(`Could not add a master key version in ${this.dir}: concurrent rotations`);
  }

  /**
   * Deletes a non-current version. Data keys still wrapped under it become undecryptable
   * ('master_key_missing'), so run the rewrap first; this is also how a whole generation is shredded.
   */
  async retire(version: number): Promise<void> {
    this.assertOpen();
    await this.reload();
    if (version === this.currentVersion()) {
      throw new ConflictError(`Master key v${version} is current and cannot be retired`, 'master_key_current');
    }
    await fs.rm(this.fileFor(version), { force: true });
    this.keys.get(version)?.fill(0);
    this.keys.delete(version);
  }

  async ping(): Promise<void> {
    if (this.closed) throw new DependencyError('keys', 'The local key provider is closed');
    try {
      await fs.access(this.fileFor(this.currentVersion()), fsConstants.R_OK);
    } catch (err) {
      throw new DependencyError('keys', 'The current master key file is not readable', err);
    }
  }

  async close(): Promise<void> {
    wipeAll(this.keys);
    this.keys.clear();
    this.closed = true;
  }

  private generateWith(version: number, ctx: EncryptionContext): DataKey {
    const plaintext = randomBytes(DATA_KEY_BYTES);
    const wrapped = this.wrap(plaintext, ctx, version);
    return { plaintext, wrapped, keyRef: `local:v${version}` };
  }

  private async loadedVersion(keyRef: string): Promise<number> {
    this.assertOpen();
    const version = parseKeyRef(keyRef);
    if (!this.keys.has(version)) await this.reload();
    if (!this.keys.has(version)) throw new KeyConfigError(`Master key ${keyRef} is recorded as active but master-v${version}.key is not in ${this.dir}`);
    return version;
  }

  private currentVersion(): number {
    this.assertOpen();
    const version = this.highestVersion();
    if (version === 0) throw new KeyConfigError(`No master key loaded from ${this.dir}`);
    return version;
  }

  private highestVersion(): number {
    return Math.max(0, ...this.keys.keys());
  }

  private assertOpen(): void {
    if (this.closed) throw new DependencyError('keys', 'The local key provider is closed');
  }

  private fileFor(version: number): string {
    return path.join(this.dir, `master-v${version}.key`);
  }

  private wrap(plaintext: Buffer, ctx: EncryptionContext, version: number): Buffer {
    const master = this.keys.get(version);
    if (master === undefined) throw new KeyConfigError(`Master key v${version} is not loaded`);
    const nonce = randomBytes(NONCE_BYTES);
    const cipher = createCipheriv('aes-256-gcm', master, nonce);
    cipher.setAAD(canonicalContext(ctx));
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return Buffer.concat([Buffer.of(WRAP_FORMAT), nonce, body, cipher.getAuthTag()]);
  }

  private masterKey(version: number, keyRef: string): Buffer {
    this.assertOpen();
    const master = this.keys.get(version);
    if (master === undefined) throw new KeyAccessError(`Master key ${keyRef} is not available`, 'master_key_missing');
    return master;
  }

  private async prepareDir(create: boolean): Promise<void> {
    try {
      const st = await fs.stat(this.dir);
      if (!st.isDirectory()) throw new KeyConfigError(`Key directory ${this.dir} is not a directory`);
      if (CHECK_MODES && (st.mode & 0o022) !== 0) {
        throw new KeyConfigError(`Key directory ${this.dir} is writable by group or others; use mode 0700`);
      }
    } catch (err) {
      if (!isErrno(err, 'ENOENT')) throw err;
      if (!create) throw new KeyConfigError(`Key directory ${this.dir} does not exist`, err);
      await fs.mkdir(this.dir, { recursive: true, mode: 0o700 });
      await fs.chmod(this.dir, 0o700);
    }
  }

  /**
   * Re-reads the directory, so a version written by another process (e.g. `callvault keys rotate`)
   * is picked up on first use. Loaded versions keep their buffer; versions whose file is gone are
   * wiped from memory too.
   */
  private async reload(): Promise<void> {
    this.assertOpen();
    const found = new Map<number, Buffer>();
    try {
      for (const name of await fs.readdir(this.dir)) {
        const match = KEY_FILE.exec(name);
        if (match !== null) found.set(Number(match[1]), await readMasterKey(path.join(this.dir, name)));
      }
    } catch (err) {
      wipeAll(found);
      throw err;
    }
    for (const [version, key] of this.keys) {
      if (!found.has(version)) key.fill(0);
    }
    for (const [version, key] of found) {
      const loaded = this.keys.get(version);
      if (loaded === undefined) continue;
      key.fill(0);
      found.set(version, loaded);
    }
    this.keys = found;
  }

  /**
   * Publishes a new version atomically: the key is written and synced under a temporary name, then
   * hard-linked to its final name. Unlike rename, link never replaces an existing file, so two
   * concurrent rotations cannot overwrite each other's key. Returns false when the version exists.
   */
  private async writeVersion(version: number): Promise<boolean> {
    const key = randomBytes(MASTER_KEY_BYTES);
    const target = this.fileFor(version);
    const temp = path.join(this.dir, `.master-v${version}.${randomBytes(6).toString('hex')}.tmp`);
    const handle = await fs.open(temp, 'wx', 0o600);
    try {
      await handle.writeFile(key);
      await handle.sync();
    } finally {
      await handle.close();
    }
    try {
      await fs.link(temp, target);
    } catch (err) {
      key.fill(0);
      if (isErrno(err, 'EEXIST')) return false;
      throw err;
    } finally {
      await fs.rm(temp, { force: true });
    }
    await syncDir(this.dir);
    this.keys.set(version, key);
    return true;
  }
}

function parseKeyRef(keyRef: string): number {
  const match = KEY_REF.exec(keyRef);
  if (match === null) throw new KeyAccessError('The data key names an unknown key reference');
  return Number(match[1]);
}

function wipeAll(keys: Map<number, Buffer>): void {
  for (const key of keys.values()) key.fill(0);
}

function unwrap(master: Buffer, wrapped: Buffer, ctx: EncryptionContext): Buffer {
  if (wrapped.length !== WRAPPED_BYTES || wrapped[0] !== WRAP_FORMAT) {
    throw new KeyAccessError('The wrapped data key is malformed');
  }
  const nonce = wrapped.subarray(1, 1 + NONCE_BYTES);
  const body = wrapped.subarray(1 + NONCE_BYTES, 1 + NONCE_BYTES + DATA_KEY_BYTES);
  const decipher = createDecipheriv('aes-256-gcm', master, nonce);
  decipher.setAAD(canonicalContext(ctx));
  decipher.setAuthTag(wrapped.subarray(WRAPPED_BYTES - TAG_BYTES));
  const plaintext = decipher.update(body);
  try {
    decipher.final();
  } catch (err) {
    // The output of update() is unauthenticated until final() succeeds.
    plaintext.fill(0);
    throw new KeyAccessError('The data key could not be unwrapped', 'key_access_denied', err);
  }
  return plaintext;
}
