import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { formatVerifierKey, noteVerifier } from '../../src/audit/note.js';
import { call, issueLink, play, tinyWav, upload } from '../access/support.js';
import { request } from '../helpers/http.js';
import { assertContract } from '../helpers/openapi.js';
import { startVault, type TestVault } from '../helpers/vault.js';

/**
 * The console's in-browser checks of the per-tenant log (src/console/assets/lib/proofs.js, run
 * here on node's WebCrypto) against the vault's own answers: the verifier key endpoint, the
 * checkpoint signature, and each event's inclusion proof and hash.
 */
interface Line { log: string; logSeq: number; recordingPrev: number | null; details: Record<string, unknown>; hash: string; prevHash: string; proof?: { treeSize: number; hashes: string[] } }
interface Checkpoint { origin: string; size: number; rootHash: Uint8Array }
interface ProofsModule {
  parseVerifierKey(text: string): Promise<object>;
  verifyCheckpoint(note: string, key: object): Promise<Checkpoint>;
  leafHash(e: Line): Promise<Uint8Array>;
  verifyInclusion(index: number, size: number, leaf: Uint8Array, proof: string[], root: Uint8Array): Promise<boolean>;
}
interface ChainModule { verifyEvents(events: readonly Line[]): Promise<{ ok: boolean; checked: number; links: number; reason: string | null }> }

// Browser modules, checked by the console's own tsconfig: loaded by specifiers the compiler does not follow.
const PROOFS = '../../src/console/assets/lib/proofs.js';
const CHAIN = '../../src/console/assets/lib/chain.js';
const proofs = (await import(PROOFS)) as ProofsModule;
const chain = (await import(CHAIN)) as ChainModule;

describe('console verification of the per-tenant log', () => {
  let vault: TestVault;
  let compliance: string;
  let lines: Line[];
  let note: string;
  let verifierKey: string;
  before(async () => {
    vault = await startVault();
    compliance = await vault.token('compliance');
    const rec = await upload(vault, await vault.token('pbx'), 'proof-1', tinyWav(1));
    await upload(vault, await vault.token('pbx'), 'proof-2', tinyWav(2));
    const link = await issueLink(vault, await vault.token('supervisor'), rec.id);
    assert.equal((await play(vault, link, { range: 'bytes=0-15' })).status, 206);
    // Plain request: the export's per-log lines are documented in docs/audit.md, not yet in openapi.yaml.
    const res = await request(vault, { path: `/v1/audit-events?recordingId=${rec.id}&order=desc&limit=10`, token: compliance });
    assert.equal(res.status, 200, res.body.toString());
    const parsed = res.body.toString().trimEnd().split('\n').map((l) => JSON.parse(l) as Line & { checkpoint?: string });
    note = parsed.pop()?.checkpoint ?? '';
    lines = parsed;
    const key = assertContract('GET', '/v1/audit-checkpoints/verifier-key', await call(vault, { path: '/v1/audit-checkpoints/verifier-key', token: compliance }));
    assert.equal(key.status, 200, key.body.toString());
    verifierKey = key.json<{ verifierKey: string }>().verifierKey;
  });
  after(async () => { await vault.close(); });

  test('the verifier key verifies the checkpoint the export ends with, and every event is proven in its tree', async () => {
    assert.ok(verifierKey.startsWith(`${vault.config.audit.namespace}/tenant/acme+`));
    const checkpoint = await proofs.verifyCheckpoint(note, await proofs.parseVerifierKey(verifierKey));
    assert.equal(checkpoint.origin, `${vault.config.audit.namespace}/tenant/acme`);
    assert.deepEqual(lines.map((l) => l.details.range ?? null).filter(Boolean), ['bytes=0-15']);
    assert.ok(lines.length >= 4);
    for (const e of lines) {
      assert.equal(e.proof?.treeSize, checkpoint.size);
      assert.equal(await proofs.verifyInclusion(e.logSeq - 1, checkpoint.size, await proofs.leafHash(e), e.proof.hashes, checkpoint.rootHash), true, `event ${e.logSeq}`);
    }
    const result = await chain.verifyEvents(lines);
    assert.deepEqual([result.ok, result.checked], [true, lines.length], result.reason ?? '');
  });

  test('an edited event fails its proof and its hash; a foreign key, an edited note or a wrong key id fails the checkpoint', async () => {
    const checkpoint = await proofs.verifyCheckpoint(note, await proofs.parseVerifierKey(verifierKey));
    const first = lines[0];
    assert.ok(first?.proof);
    const edited = { ...first, details: { ...first.details, reason: 'edited' } };
    assert.equal(await proofs.verifyInclusion(first.logSeq - 1, checkpoint.size, await proofs.leafHash(edited), first.proof.hashes, checkpoint.rootHash), false);
    assert.equal(await proofs.verifyInclusion(first.logSeq, checkpoint.size, await proofs.leafHash(first), first.proof.hashes, checkpoint.rootHash), false, 'another position');
    assert.equal((await chain.verifyEvents([edited])).ok, false);

    const foreign = formatVerifierKey(noteVerifier(checkpoint.origin, generateKeyPairSync('ed25519').publicKey));
    await assert.rejects(proofs.verifyCheckpoint(note, await proofs.parseVerifierKey(foreign)), /no signature by|does not verify/);
    const grown = note.replace(`\n${checkpoint.size}\n`, `\n${checkpoint.size + 1}\n`);
    await assert.rejects(proofs.verifyCheckpoint(grown, await proofs.parseVerifierKey(verifierKey)), /does not verify/);
    const [i, j] = [verifierKey.indexOf('+'), verifierKey.indexOf('+', verifierKey.indexOf('+') + 1)];
    const id = verifierKey.slice(i + 1, j);
    const wrongId = `${verifierKey.slice(0, i)}+${id === '00000000' ? '00000001' : '00000000'}+${verifierKey.slice(j + 1)}`;
    await assert.rejects(proofs.parseVerifierKey(wrongId), /does not match/);
  });

  test('only compliance reads the verifier key; a tenant without a log gets 404', async () => {
    for (const role of ['supervisor', 'admin', 'agent'] as const) {
      assert.equal((await call(vault, { path: '/v1/audit-checkpoints/verifier-key', token: await vault.token(role) })).status, 403, role);
    }
    assert.equal((await call(vault, { path: '/v1/audit-checkpoints/verifier-key', token: await vault.token('compliance', { tenant: 'nobody' }) })).status, 404);
  });
});
