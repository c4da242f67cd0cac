import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { AppendedEvent, LogHead } from '../../src/audit/log-append.js';
import { LogHeads } from '../../src/audit/log-heads.js';

const head = (size: number): LogHead => ({ size, hash: String(size).padStart(64, '0'), frontier: new Map([[0, Buffer.alloc(32, size)]]) });
const about = (recordingId: string, logSeq: number): AppendedEvent => ({ recordingId, logSeq }) as AppendedEvent;

describe('what a writer remembers of where its logs end', () => {
  test('a head only grows; a copy handed out cannot change what is remembered', () => {
    const heads = new LogHeads();
    heads.advance(1, head(5), []);
    heads.advance(1, head(3), []);
    assert.equal(heads.head(1)?.size, 5, 'a commit reported late does not move the head back');
    const copy = heads.head(1);
    copy?.frontier.clear();
    assert.equal(heads.head(1)?.frontier.size, 1);
    heads.forget(1);
    assert.equal(heads.head(1), undefined);
    heads.advance(1, head(2), []);
    assert.equal(heads.head(1)?.size, 2, 'after forget, the long way\'s head is taken whatever its size');
  });

  test('recordings: the last event about each, per log, newest kept, oldest forgotten past the bound', () => {
    const heads = new LogHeads(2);
    heads.advance(1, head(3), [about('a', 1), about('b', 2), about('a', 3)]);
    heads.advance(2, head(1), [about('a', 1)]);
    assert.deepEqual([...heads.recordingPrev(1, ['a', 'b', 'c'])], [['a', 3]], 'b was the oldest of three and went');
    assert.deepEqual([...heads.recordingPrev(2, ['a'])], [['a', 1]], 'logs do not share recordings');
    heads.advance(1, head(4), [about('a', 2)]);
    assert.deepEqual([...heads.recordingPrev(1, ['a'])], [['a', 3]], 'an older event never replaces a newer one');
  });
});
