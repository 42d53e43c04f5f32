import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { crc16, keySlot, slotCount } from '../../src/sharding/slots.js';

const b = (text: string) => Buffer.from(text, 'utf8');

describe('hash slots (Redis Cluster mapping)', () => {
  it('CRC16 is CRC-16/XMODEM: the check value of "123456789" is 0x31C3', () => {
    assert.equal(crc16(b('123456789')), 0x31c3);
    assert.equal(crc16(b('')), 0);
  });

  it('maps keys to the slots Redis Cluster gives them', () => {
    // Values from the Redis Cluster specification and `CLUSTER KEYSLOT` on a real cluster.
    assert.equal(keySlot(b('foo')), 12182);
    assert.equal(keySlot(b('bar')), 5061);
    assert.equal(keySlot(b('hello')), 866);
    assert.equal(keySlot(b('')), 0);
  });

  it('hashes only the tag between the first { and the next }, when it is not empty', () => {
    assert.equal(keySlot(b('{user1000}.following')), keySlot(b('user1000')));
    assert.equal(keySlot(b('{user1000}.followers')), keySlot(b('{user1000}.following')));
    const whole = (text: string) => crc16(b(text)) % slotCount;
    assert.equal(keySlot(b('foo{}{bar}')), whole('foo{}{bar}'), 'an empty first tag: the whole key');
    assert.notEqual(keySlot(b('foo{}{bar}')), keySlot(b('bar')));
    assert.equal(keySlot(b('foo{{bar}}zap')), keySlot(b('{bar')), 'the tag starts after the first {');
    assert.equal(keySlot(b('foo{bar}{zap}')), keySlot(b('bar')), 'only the first tag counts');
    assert.equal(keySlot(b('no}tag{here')), whole('no}tag{here'), 'a { with no } after it: the whole key');
    assert.notEqual(keySlot(b('no}tag{here')), keySlot(b('here')), 'a } before the { is no tag');
  });

  it('every slot is in range, and binary keys work (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (key) => {
        const slot = keySlot(key);
        return Number.isInteger(slot) && slot >= 0 && slot < slotCount;
      }),
    );
  });

  it('a key and its tag-wrapped copy share a slot (property)', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 32 }).filter((k) => !k.includes(0x7b) && !k.includes(0x7d)),
        fc.uint8Array({ maxLength: 16 }),
        (tag, suffix) => keySlot(Buffer.concat([Buffer.from('{'), tag, Buffer.from('}'), suffix])) === keySlot(tag),
      ),
    );
  });
});
