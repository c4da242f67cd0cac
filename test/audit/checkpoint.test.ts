import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import {
  CheckpointError, checkpointText, logOrigin, parseCheckpoint, signCheckpoint, verifyCheckpoint, verifyCheckpointConsistency,
} from '../../src/audit/checkpoint.js';
import { MemorySubtreeStore } from '../../src/audit/merkle-memory.js';
import { consistencyProof, leafHash, rootHash } from '../../src/audit/merkle.js';
import { NoteError, formatVerifierKey, noteKeyId, noteVerifier, openNote, parseNote, parseVerifierKey, signNote } from '../../src/audit/note.js';

/** golang.org/x/mod/sumdb/note's documented example (ExampleSign, ExampleOpen): another implementation's bytes. */
const GO_SIGNER = 'PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz';
const GO_VERIFIER = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
const GO_TEXT = 'If you think cryptography is the answer to your problem,\nthen you don\'t know what your problem is.\n';
const GO_NOTE = `${GO_TEXT}\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n`;
/** The example of c2sp.org/signed-note. */
const SPEC_VERIFIER = 'example.com/foo+530d903a+AekyeRrm56hApGFkyQR4ZCbV54Id2LKaANYcrnKv3U2k';
const SPEC_NOTE = 'This is an example message.\n\n\u2014 example.com/foo '
  + 'Uw2QOkn8srV1yJGh2VYRlL1Tnagv1YEq6TfXppzi2ONncAlTgK7Ztg1ERYNZXsYjOBH3mFXmRKuwHjG1Yu72IneyaQM=\n';

const ORIGIN = 'callvault.example.com/prod-eu/tenant/acme';
const ROOT = leafHash(Buffer.from('root'));
const TIME = new Date('2026-12-01T15:00:00.120Z');

function goPrivateKey(): KeyObject {
  const typed = Buffer.from(GO_SIGNER.split('+').slice(4).join('+'), 'base64');
  assert.equal(typed[0], 0x01);
  const pkcs8 = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), typed.subarray(1)]);
  return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
}

const keys = generateKeyPairSync('ed25519');
const signed = (): string => signCheckpoint({ origin: ORIGIN, size: 4711, rootHash: ROOT, time: TIME }, keys.privateKey);

describe('signed notes (c2sp.org/signed-note)', () => {
  test('sign reproduces the Go reference note byte for byte, and the reference verifier key', () => {
    const privateKey = goPrivateKey();
    assert.equal(signNote(GO_TEXT, 'PeterNeumann', privateKey), GO_NOTE);
    assert.equal(formatVerifierKey(noteVerifier('PeterNeumann', createPublicKey(privateKey))), GO_VERIFIER);
  });

  test('open verifies the Go and the specification examples with their verifier keys', () => {
    const go = openNote(GO_NOTE, [parseVerifierKey(GO_VERIFIER)]);
    assert.equal(go.text, GO_TEXT);
    assert.deepEqual(go.verifiedBy, ['PeterNeumann']);
    assert.equal(openNote(Buffer.from(SPEC_NOTE, 'utf8'), [parseVerifierKey(SPEC_VERIFIER)]).text, 'This is an example message.\n');
    assert.throws(() => openNote(SPEC_NOTE, [parseVerifierKey(GO_VERIFIER)]), /no signature by a trusted key/);
  });

  test('a verifier key with any character changed or cut is refused', () => {
    for (let i = 0; i < GO_VERIFIER.length; i += 1) {
      const changed = GO_VERIFIER.slice(0, i) + (GO_VERIFIER[i] === 'A' ? 'B' : 'A') + GO_VERIFIER.slice(i + 1);
      assert.throws(() => parseVerifierKey(changed), NoteError, changed);
    }
    for (const cut of [GO_VERIFIER.slice(1), GO_VERIFIER.slice(0, -1), GO_VERIFIER.replace('+c74f20a3', ''), 'PeterNeumann']) {
      assert.throws(() => parseVerifierKey(cut), NoteError, cut);
    }
  });

  test('unknown signatures are ignored, a known key whose signature fails rejects the note', () => {
    const other = generateKeyPairSync('ed25519');
    const cosigned = signNote(GO_TEXT, 'witness.example/w1', other.privateKey).replace(`${GO_TEXT}\n`, GO_NOTE);
    assert.deepEqual(openNote(cosigned, [parseVerifierKey(GO_VERIFIER)]).verifiedBy, ['PeterNeumann']);
    const sameNameOtherId = cosigned.replace('\u2014 witness.example/w1 ', '\u2014 PeterNeumann ');
    assert.deepEqual(openNote(sameNameOtherId, [parseVerifierKey(GO_VERIFIER)]).verifiedBy, ['PeterNeumann']);
    const witnessSig = Buffer.from(cosigned.slice(cosigned.lastIndexOf(' ') + 1, -1), 'base64').subarray(4);
    const goKeyId = Buffer.from('c74f20a3', 'hex');
    const forged = `${GO_TEXT}\n\u2014 PeterNeumann ${Buffer.concat([goKeyId, witnessSig]).toString('base64')}\n${GO_NOTE.slice(GO_NOTE.lastIndexOf('\u2014'))}`;
    assert.throws(() => openNote(forged, [parseVerifierKey(GO_VERIFIER)]), /does not verify/, 'known name and ID, signed by another key');
    const wrongSig = GO_NOTE.replace('x08go/ZJ', 'x08go/ZK');
    assert.throws(() => openNote(wrongSig, [parseVerifierKey(GO_VERIFIER)]), /does not verify/);
  });

  test('malformed notes are refused', () => {
    const bad: Record<string, string | Uint8Array> = {
      'no trailing newline': GO_NOTE.slice(0, -1),
      'no blank line': GO_NOTE.replace('\n\n', '\n'),
      'no signature': `${GO_TEXT}\n`,
      'repeated signature line': `${GO_NOTE}${GO_NOTE.slice(GO_NOTE.lastIndexOf('\u2014'))}`,
      'hyphen instead of em dash': GO_NOTE.replace('\u2014', '-'),
      'two spaces': GO_NOTE.replace('\u2014 ', '\u2014  '),
      'non-canonical base64': GO_NOTE.replace('nAM=', 'nAN='),
      'carriage return': GO_NOTE.replace('\n\n', '\r\n\n'),
      'control character': GO_NOTE.replace('If', 'I\u0007f'),
      'invalid UTF-8': Buffer.concat([Buffer.from([0xff]), Buffer.from(GO_NOTE)]),
      'empty signature line': GO_NOTE.replace(/\n$/, '\n\n'),
    };
    for (const [what, note] of Object.entries(bad)) assert.throws(() => parseNote(note), NoteError, what);
  });
});

describe('checkpoints (c2sp.org/tlog-checkpoint)', () => {
  test('format: origin, size, base64 root, time extension, then the signature under the origin', () => {
    const note = signed();
    const [body, sigs] = note.split('\n\n');
    assert.equal(`${body}\n`, `${ORIGIN}\n4711\n${ROOT.toString('base64')}\ncallvault-time 2026-12-01T15:00:00.120Z\n`);
    const prefix = `\u2014 ${ORIGIN} `;
    assert.ok(sigs!.startsWith(prefix) && sigs!.endsWith('\n') && !sigs!.slice(0, -1).includes('\n'));
    const blob = Buffer.from(sigs!.slice(prefix.length, -1), 'base64');
    assert.equal(blob.length, 4 + 64);
    assert.deepEqual(blob.subarray(0, 4), noteKeyId(ORIGIN, keys.publicKey));
    assert.equal(checkpointText({ origin: ORIGIN, size: 0, rootHash: ROOT, time: null }), `${ORIGIN}\n0\n${ROOT.toString('base64')}\n`);
  });

  test('round trip: sign, verify with the public key, read back every field', () => {
    const c = verifyCheckpoint(signed(), keys.publicKey, ORIGIN);
    assert.deepEqual(c, { origin: ORIGIN, size: 4711, rootHash: ROOT, time: TIME, extensions: [] });
    const withExtension = signNote(`${checkpointText({ origin: ORIGIN, size: 1, rootHash: ROOT, time: null })}other 1\n`, ORIGIN, keys.privateKey);
    assert.deepEqual(verifyCheckpoint(withExtension, keys.publicKey).extensions, ['other 1']);
  });

  test('the published verifier key opens our checkpoints as any signed-note tool would', () => {
    const vkey = formatVerifierKey(noteVerifier(ORIGIN, keys.publicKey));
    assert.equal(openNote(signed(), [parseVerifierKey(vkey)]).text.split('\n')[1], '4711');
  });

  test('every changed character of a signed checkpoint fails verification', () => {
    const note = signed();
    for (let i = 0; i < note.length; i += 1) {
      const changed = note.slice(0, i) + (note[i] === 'A' ? 'B' : 'A') + note.slice(i + 1);
      assert.throws(() => verifyCheckpoint(changed, keys.publicKey), NoteError, `position ${i}`);
    }
  });

  test('another key, another log, or a checkpoint re-signed under another origin does not verify', () => {
    const other = generateKeyPairSync('ed25519');
    assert.throws(() => verifyCheckpoint(signed(), other.publicKey), /no signature by a trusted key/);
    assert.throws(() => verifyCheckpoint(signed(), keys.publicKey, logOrigin('callvault.example.com/prod-eu', { tenant: 'globex' })), CheckpointError);
    const text = checkpointText({ origin: ORIGIN, size: 4711, rootHash: ROOT, time: TIME });
    const underOtherName = signNote(text, 'callvault.example.com/prod-eu/tenant/globex', keys.privateKey);
    assert.throws(() => verifyCheckpoint(underOtherName, keys.publicKey), /no signature by a trusted key/);
  });

  test('malformed checkpoint text is refused, even when properly signed', () => {
    const root = ROOT.toString('base64');
    const bad: Record<string, string> = {
      'two lines': `${ORIGIN}\n1\n`,
      'leading zero': `${ORIGIN}\n01\n${root}\n`,
      'negative size': `${ORIGIN}\n-1\n${root}\n`,
      'size beyond 2^53': `${ORIGIN}\n9007199254740993\n${root}\n`,
      'short root': `${ORIGIN}\n1\n${ROOT.subarray(1).toString('base64')}\n`,
      'unpadded root': `${ORIGIN}\n1\n${root.replace(/=$/, '')}\n`,
      'empty extension line': `${ORIGIN}\n1\n${root}\n\nx\n`,
      'repeated extension line': `${ORIGIN}\n1\n${root}\nx\nx\n`,
      'two times': `${ORIGIN}\n1\n${root}\ncallvault-time 2026-12-01T15:00:00.120Z\ncallvault-time 2026-12-01T15:00:00.121Z\n`,
      'non-canonical time': `${ORIGIN}\n1\n${root}\ncallvault-time 2026-12-01T15:00:00Z\n`,
      'origin with a space': `callvault.example.com/a b\n1\n${root}\n`,
    };
    for (const [what, text] of Object.entries(bad)) {
      assert.throws(() => parseCheckpoint(signNote(text, 'callvault.example.com/k', keys.privateKey)), CheckpointError, what);
    }
    assert.throws(() => checkpointText({ origin: ORIGIN, size: 1, rootHash: ROOT.subarray(1), time: null }), CheckpointError);
    assert.throws(() => checkpointText({ origin: ORIGIN, size: 1.5, rootHash: ROOT, time: null }), CheckpointError);
  });

  test('origins: one per tenant and one for the system log, all distinct and valid key names', () => {
    const ns = 'callvault.example.com/prod-eu';
    assert.equal(logOrigin(ns, { tenant: 'acme' }), `${ns}/tenant/acme`);
    assert.equal(logOrigin(ns, 'system'), `${ns}/system`);
    assert.notEqual(logOrigin(ns, { tenant: 'system' }), logOrigin(ns, 'system'));
    for (const bad of ['', 'callvault example', 'a+b.example', 'callvault.example.com/', 'localhost']) {
      assert.throws(() => logOrigin(bad, 'system'), CheckpointError, bad);
    }
    assert.throws(() => logOrigin(ns, { tenant: 'a/b' }), CheckpointError);
  });

  test('consistency between two checkpoints: an extended log passes, a rewritten one fails', async () => {
    const store = new MemorySubtreeStore();
    for (let i = 0; i < 13; i += 1) store.append(leafHash(Buffer.from(`event ${i}`)));
    const at = async (size: number, s: MemorySubtreeStore = store): Promise<string> =>
      signCheckpoint({ origin: ORIGIN, size, rootHash: await rootHash(s, size), time: TIME }, keys.privateKey);
    const [old5, new13] = [await at(5), await at(13)];
    const proof = await consistencyProof(store, 5, 13);
    const result = verifyCheckpointConsistency(old5, new13, proof, keys.publicKey);
    assert.deepEqual([result.older.size, result.newer.size], [5, 13]);
    assert.throws(() => verifyCheckpointConsistency(new13, old5, proof, keys.publicKey), CheckpointError);

    const rewritten = new MemorySubtreeStore();
    for (let i = 0; i < 13; i += 1) rewritten.append(leafHash(Buffer.from(i === 2 ? 'edited' : `event ${i}`)));
    const [forged13, forgedProof] = [await at(13, rewritten), await consistencyProof(rewritten, 5, 13)];
    assert.throws(() => verifyCheckpointConsistency(old5, forged13, forgedProof, keys.publicKey), /history was rewritten/);
    const otherLog = signCheckpoint({ ...parseCheckpoint(new13).checkpoint, origin: logOrigin('callvault.example.com/prod-eu', 'system') },
      keys.privateKey);
    assert.throws(() => verifyCheckpointConsistency(old5, otherLog, proof, keys.publicKey), CheckpointError);
  });
});
