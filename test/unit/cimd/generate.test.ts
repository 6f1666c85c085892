import { describe, expect, it } from 'vitest';
import { generateCimd } from '../../../functions/core/cimd/generate.ts';
import { describeRoute } from '../../../functions/core/routes.ts';

const to = 'https://up.example.net/mcp';

describe('generateCimd', () => {
  it.each([
    ['https://mcp.example.com', 'mcp.example.com'],
    ['https://a.b.example.org', 'a.b.example.org'],
    ['https://mcp.example.com:8443', 'mcp.example.com:8443'],
    ['https://localhost:9443', 'localhost:9443'],
  ])('derives every field of the seed table for %s', (from, host) => {
    const doc = generateCimd(describeRoute({ from, to }));
    expect(doc).toEqual({
      client_id: `${from}/.well-known/mcp-client-metadata.json`,
      client_name: `MCP Edge - ${host}`,
      client_uri: from,
      redirect_uris: [`${from}/.pomerium/oauth/callback`],
      grant_types: ['authorization_code', 'refresh_token'],
      response_types: ['code'],
      token_endpoint_auth_method: 'none',
    });
    expect(Object.keys(doc)).toEqual([
      'client_id',
      'client_name',
      'client_uri',
      'redirect_uris',
      'grant_types',
      'response_types',
      'token_endpoint_auth_method',
    ]);
  });

  it('uses the route name, and clientName over it', () => {
    expect(generateCimd(describeRoute({ from: 'https://m.example.com', to, name: 'Docs' })).client_name).toBe(
      'Docs (MCP Edge - m.example.com)',
    );
    expect(
      generateCimd(describeRoute({ from: 'https://m.example.com', to, name: 'Docs', clientName: 'Exact' }))
        .client_name,
    ).toBe('Exact');
  });

  it('adds optional fields only when configured', () => {
    const doc = generateCimd(
      describeRoute({
        from: 'https://m.example.com',
        to,
        cimd: {
          logoUri: 'https://m.example.com/l.png',
          contacts: ['a@example.com'],
          tosUri: 'https://m.example.com/tos',
          policyUri: 'https://m.example.com/p',
        },
      }),
    );
    expect(doc.logo_uri).toBe('https://m.example.com/l.png');
    expect(doc.contacts).toEqual(['a@example.com']);
    expect(doc.tos_uri).toBe('https://m.example.com/tos');
    expect(doc.policy_uri).toBe('https://m.example.com/p');
    expect(generateCimd(describeRoute({ from: 'https://m.example.com', to, cimd: {} }))).not.toHaveProperty(
      'logo_uri',
    );
  });
});
