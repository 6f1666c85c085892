/**
 * Reads the parameters of the `Bearer` challenge in a `WWW-Authenticate` header
 * (RFC 6750 §3, RFC 9728 §5.1 `resource_metadata`). Only what the MCP authorization flow uses.
 */
export function bearerChallengeParams(header: string | null): Record<string, string> | undefined {
  if (!header) return undefined;
  const match = /(?:^|,)\s*Bearer(?:\s+|$)(.*)$/i.exec(header);
  if (!match) return undefined;
  const params: Record<string, string> = {};
  // auth-param = token BWS "=" BWS ( token / quoted-string )
  const re =
    /([A-Za-z0-9!#$%&'*+.^_`|~-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([A-Za-z0-9!#$%&'*+.^_`|~/:=-]+))\s*(?:,|$)/g;
  const rest = match[1] ?? '';
  for (let m = re.exec(rest); m; m = re.exec(rest)) {
    const name = m[1]!.toLowerCase();
    // A second scheme starts after a comma with a bare token; stop at it.
    if (!(name in params)) params[name] = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : (m[3] ?? '');
  }
  return params;
}
