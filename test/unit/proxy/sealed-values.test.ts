import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createSealer } from '../../../functions/core/proxy/sealed-values.ts';

const A = 'https://a.example.com';
const B = 'https://b.example.com';
const alice = { route: A, user: 'idp|alice' };

describe('createSealer', () => {
  const sealer = createSealer(randomBytes(32));
  const session = { s: 'upstream-session-1234', e: true };

  it('opens a session id for the same kind, route and person it was sealed for', () => {
    const sealed = sealer.seal('session', alice, session);
    expect(sealed).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(sealer.open('session', alice, sealed)).toEqual(session);
  });

  it('never shows the sealed value in clear, and seals it differently each time', () => {
    const one = sealer.seal('session', alice, session);
    const two = sealer.seal('session', alice, session);
    expect(one).not.toBe(two);
    expect(Buffer.from(one, 'base64url').toString('latin1')).not.toContain('upstream-session');
  });

  it('does not open a value sealed for route A and alice for another person on route A', () => {
    const sealed = sealer.seal('session', alice, session);
    expect(sealer.open('session', { route: A, user: 'idp|bob' }, sealed)).toBeUndefined();
  });

  it('does not open a value sealed for route A and alice for alice on route B', () => {
    const sealed = sealer.seal('session', alice, session);
    expect(sealer.open('session', { route: B, user: 'idp|alice' }, sealed)).toBeUndefined();
  });

  it('does not open a session id as a request state, nor a request state as a session id', () => {
    const sealedSession = sealer.seal('session', alice, session);
    const sealedState = sealer.seal('request-state', alice, { m: 'tools/call', n: 'echo', x: 1 });
    expect(sealer.open('request-state', alice, sealedSession)).toBeUndefined();
    expect(sealer.open('session', alice, sealedState)).toBeUndefined();
  });

  it('does not open under another sealing key', () => {
    const sealed = sealer.seal('session', alice, session);
    expect(createSealer(randomBytes(32)).open('session', alice, sealed)).toBeUndefined();
  });

  it('does not open a tampered value (any byte changed)', () => {
    const sealed = sealer.seal('session', alice, session);
    const bytes = Buffer.from(sealed, 'base64url');
    for (const index of [0, 11, 12, Math.floor(bytes.length / 2), bytes.length - 1]) {
      const tampered = Buffer.from(bytes);
      tampered[index]! ^= 0x01;
      expect(sealer.open('session', alice, tampered.toString('base64url')), `byte ${index}`).toBeUndefined();
    }
  });

  it('does not open a truncated value, nor one with bytes appended', () => {
    const sealed = sealer.seal('session', alice, session);
    const bytes = Buffer.from(sealed, 'base64url');
    for (const cut of [1, 16, bytes.length - 12]) {
      const truncated = bytes.subarray(0, bytes.length - cut).toString('base64url');
      expect(sealer.open('session', alice, truncated), `cut ${cut}`).toBeUndefined();
    }
    const longer = Buffer.concat([bytes, Buffer.from([0])]).toString('base64url');
    expect(sealer.open('session', alice, longer)).toBeUndefined();
  });

  it('does not open anything longer than 4096 characters, even an authentic value', () => {
    const big = sealer.seal('session', alice, { s: 'x'.repeat(3500) });
    expect(big.length).toBeGreaterThan(4096);
    expect(sealer.open('session', alice, big)).toBeUndefined();
    const justUnder = sealer.seal('session', alice, { s: 'x'.repeat(2900) });
    expect(justUnder.length).toBeLessThanOrEqual(4096);
    expect(sealer.open('session', alice, justUnder)).toEqual({ s: 'x'.repeat(2900) });
  });

  it('does not open values that are not base64url or too short to hold a tag', () => {
    for (const junk of [
      '',
      'short',
      'not base64url at all, with spaces and +/= signs...........',
      '!'.repeat(64),
    ]) {
      expect(sealer.open('session', alice, junk)).toBeUndefined();
    }
  });

  it('refuses a sealing key that is not 256 bits', () => {
    expect(() => createSealer(randomBytes(31))).toThrow(TypeError);
    expect(() => createSealer(randomBytes(33))).toThrow(TypeError);
  });
});
