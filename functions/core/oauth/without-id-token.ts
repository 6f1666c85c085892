/**
 * The gateway is an OAuth client of the upstream, not an OpenID Connect relying party: it never
 * uses an upstream ID token. Dropping it before oauth4webapi processes the token response avoids
 * refusing (and losing) a good token response only because the ID token is signed with an algorithm
 * we did not record, and keeps one more credential out of the vault.
 */
export async function withoutIdToken(response: Response): Promise<Response> {
  if (response.status !== 200 || !/json/i.test(response.headers.get('content-type') ?? '')) return response;
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return new Response(text, { status: response.status, headers: response.headers });
  }
  if (body && typeof body === 'object' && !Array.isArray(body) && 'id_token' in body) {
    const { id_token: _dropped, ...rest } = body as Record<string, unknown>;
    return new Response(JSON.stringify(rest), { status: response.status, headers: response.headers });
  }
  return new Response(text, { status: response.status, headers: response.headers });
}
