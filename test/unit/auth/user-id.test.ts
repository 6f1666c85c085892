import { describe, expect, it } from 'vitest';
import { userIdFor } from '../../../functions/core/auth/signin.ts';

describe('userIdFor', () => {
  it('keeps the same subject at two identity providers apart (no shared vault items after a switch)', () => {
    const a = userIdFor('https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AAA', 'alice');
    const b = userIdFor('https://login.example.com', 'alice');
    expect(a).not.toBe(b);
    expect(a.endsWith(':alice')).toBe(true);
  });

  it('is stable for one provider and splits unambiguously even when the subject has a colon', () => {
    const issuer = 'https://login.example.com';
    expect(userIdFor(issuer, 'x:y')).toBe(userIdFor(issuer, 'x:y'));
    expect(userIdFor(issuer, 'x:y')).not.toBe(userIdFor(`${issuer}/x`, 'y'));
    expect(userIdFor(issuer, 'x')).toMatch(/^[A-Za-z0-9_-]{16}:x$/);
  });
});
