import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  createSignInTransactions,
  MAX_SIGN_IN_COOKIE,
  SIGN_IN_TTL_SECONDS,
} from '../../../functions/core/auth/sign-in-transaction.ts';
import { randomToken } from '../../../functions/core/crypto/random.ts';

const key = randomBytes(32);
const clock = { t: 1_800_000_000_000 };
const transactions = createSignInTransactions(key, { now: () => clock.t });
const route = 'https://mcp.example.com';
const binding = randomToken();
const here = { route, binding };

/** An MCP client's authorization request as it comes back to the authorize endpoint after sign-in. */
const AUTHORIZE_RETURN = `/.pomerium/mcp/authorize?${new URLSearchParams({
  response_type: 'code',
  client_id: 'https://claude.ai/oauth/mcp-oauth-client-metadata',
  redirect_uri: 'https://claude.ai/api/mcp/auth_callback',
  code_challenge: randomToken(),
  code_challenge_method: 'S256',
  state: randomToken(),
  scope: 'mcp:tools mcp:resources',
  resource: 'https://mcp.example.com/mcp',
})}`;

function created(returnTo = '/.pomerium/connections', freshLogin = false) {
  const made = transactions.create(here, { returnTo, freshLogin });
  if (!made) throw new Error('not created');
  return made;
}

/** The value with one character changed in the middle (the ciphertext or its tag). */
function flipped(value: string, at = Math.floor(value.length / 2)): string {
  const c = value[at] === 'A' ? 'B' : 'A';
  return `${value.slice(0, at)}${c}${value.slice(at + 1)}`;
}

describe('the sealed sign-in transaction', () => {
  it('opens for its route and browser with the state, nonce, verifier and return path it was made with', () => {
    const { value, transaction } = created(AUTHORIZE_RETURN, true);
    const opened = transactions.open(here, value);
    expect(opened).toEqual({ ok: true, transaction });
    expect(transaction).toMatchObject({
      returnTo: AUTHORIZE_RETURN,
      freshLogin: true,
      startedAt: clock.t,
      expiresAt: clock.t + SIGN_IN_TTL_SECONDS * 1000,
    });
    for (const v of [transaction.state, transaction.nonce, transaction.codeVerifier]) {
      expect(v).toMatch(/^[A-Za-z0-9_-]{43}$/);
    }
    expect(new Set([transaction.state, transaction.nonce, transaction.codeVerifier]).size).toBe(3);
  });

  it('is new every time: two sign-ins never share a state, nonce or verifier', () => {
    const a = created().transaction;
    const b = created().transaction;
    expect(a.state).not.toBe(b.state);
    expect(a.nonce).not.toBe(b.nonce);
    expect(a.codeVerifier).not.toBe(b.codeVerifier);
  });

  it('shows nothing in clear: not the verifier, the nonce, the state or the return path', () => {
    const { value, transaction } = created('/.pomerium/connections?visible-marker');
    const decoded = Buffer.from(value, 'base64url').toString('latin1');
    for (const secret of [transaction.codeVerifier, transaction.nonce, transaction.state]) {
      expect(value).not.toContain(secret);
    }
    expect(decoded).not.toContain('visible-marker');
  });

  it('is refused when any character of it was changed', () => {
    const { value } = created(AUTHORIZE_RETURN);
    for (const at of [0, 5, 16, Math.floor(value.length / 2), value.length - 2]) {
      expect(transactions.open(here, flipped(value, at))).toEqual({ ok: false, code: 'invalid' });
    }
  });

  it('is refused on another route (a cookie copied to another origin)', () => {
    const { value } = created();
    expect(transactions.open({ route: 'https://other.example.com', binding }, value)).toEqual({
      ok: false,
      code: 'invalid',
    });
  });

  it('is refused in another browser (another binding cookie)', () => {
    const { value } = created();
    expect(transactions.open({ route, binding: randomToken() }, value)).toEqual({
      ok: false,
      code: 'invalid',
    });
  });

  it('is refused when sealed under another key (another deployment, or a replaced sealing secret)', () => {
    const { value } = created();
    const other = createSignInTransactions(randomBytes(32), { now: () => clock.t });
    expect(other.open(here, value)).toEqual({ ok: false, code: 'invalid' });
  });

  it('is refused as expired from its tenth minute on', () => {
    const { value, transaction } = created();
    clock.t = transaction.expiresAt - 1;
    try {
      expect(transactions.open(here, value).ok).toBe(true);
      clock.t = transaction.expiresAt;
      expect(transactions.open(here, value)).toEqual({ ok: false, code: 'expired' });
    } finally {
      clock.t = transaction.startedAt;
    }
  });

  it.each([
    ['absent', undefined],
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['too short to hold an IV and a tag', 'AAAA'],
    ['a random blob of a plausible size', randomBytes(120).toString('base64url')],
    ['longer than any value we set', 'A'.repeat(MAX_SIGN_IN_COOKIE + 1)],
  ])('is refused when %s', (_name, value) => {
    expect(transactions.open(here, value)).toEqual({ ok: false, code: 'invalid' });
  });

  it('stays small: about 130 characters for the connections page, under 900 for an MCP authorization request', () => {
    const plain = created('/.pomerium/connections').value;
    const authorize = created(AUTHORIZE_RETURN).value;
    expect(plain.length).toBeLessThan(140);
    expect(authorize.length).toBeLessThan(900);
    // Compression pays for the percent-encoded URLs of the request.
    expect(authorize.length).toBeLessThan(((AUTHORIZE_RETURN.length + 68) * 4) / 3);
  });

  it('fits the longest authorization request the authorize endpoint accepts when it is made of real parameters', () => {
    const scopes = Array.from({ length: 120 }, (_, i) => `scope:${i}`).join(' ');
    const returnTo = `${AUTHORIZE_RETURN}&scope=${encodeURIComponent(scopes)}`.slice(0, 3072);
    const made = created(returnTo);
    expect(made.value.length).toBeLessThanOrEqual(MAX_SIGN_IN_COOKIE);
    expect(transactions.open(here, made.value)).toMatchObject({ ok: true, transaction: { returnTo } });
  });

  it('declines a return path that cannot fit in a cookie, rather than setting one browsers would drop', () => {
    const incompressible = `/${randomBytes(2400).toString('base64url')}`;
    expect(transactions.create(here, { returnTo: incompressible, freshLogin: false })).toBeUndefined();
  });

  it('needs a 256-bit key and a browser binding', () => {
    expect(() => createSignInTransactions(randomBytes(16))).toThrow(TypeError);
    expect(() => transactions.create({ route, binding: '' }, { returnTo: '/', freshLogin: false })).toThrow(
      TypeError,
    );
  });
});
