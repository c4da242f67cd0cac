import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { DirSyncer } from '../../src/storage/dir-sync.js';

/** A directory fsync that completes only when the test says so, recording when each began. */
function controlledSync() {
  const started: Array<{ dir: string; finish: (err?: Error) => void }> = [];
  const sync = (dir: string): Promise<void> => new Promise((resolve, reject) => {
    started.push({ dir, finish: (err) => (err ? reject(err) : resolve()) });
  });
  return { sync, started };
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('DirSyncer', () => {
  test('callers that ask before an fsync starts share it; later ones get the next', async () => {
    const { sync, started } = controlledSync();
    const syncer = new DirSyncer(sync);
    const first = [syncer.sync('/d'), syncer.sync('/d'), syncer.sync('/d')];
    await tick();
    assert.equal(started.length, 1);
    const late = [syncer.sync('/d'), syncer.sync('/d')];
    await tick();
    assert.equal(started.length, 1, 'no second fsync while the first runs');
    started[0]?.finish();
    await Promise.all(first);
    await tick();
    assert.equal(started.length, 2, 'callers that came during the first fsync get a fresh one');
    let lateDone = false;
    void Promise.all(late).then(() => { lateDone = true; });
    await tick();
    assert.equal(lateDone, false, 'not satisfied by the fsync that was already running');
    started[1]?.finish();
    await Promise.all(late);
  });

  test('directories are synced independently, and a failure reaches only its own callers', async () => {
    const { sync, started } = controlledSync();
    const syncer = new DirSyncer(sync);
    const a = syncer.sync('/a');
    const b = syncer.sync('/b');
    await tick();
    assert.deepEqual(started.map((s) => s.dir), ['/a', '/b']);
    started[0]?.finish(new Error('EIO'));
    started[1]?.finish();
    await assert.rejects(a, /EIO/);
    await b;
    const again = syncer.sync('/a');
    await tick();
    started[2]?.finish();
    await again;
    assert.equal(started.length, 3);
  });
});
