/**
 * `WWW-Authenticate` as RFC 9110 §11.6.1 defines it: a comma-separated list of challenges, each an
 * auth-scheme followed by either a token68 or a comma-separated list of auth-params
 * (`name=token` or `name="quoted string"`). Commas separate both the challenges and their params,
 * so a new challenge is recognised by a token that is not followed by `=`.
 */
export interface Challenge {
  /** Lower-cased auth-scheme (`bearer`, `basic`, `dpop` …). */
  readonly scheme: string;
  readonly token68?: string;
  /** Parameter names lower-cased; the first occurrence of a name wins. */
  readonly params: Readonly<Record<string, string>>;
}

const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;
const TOKEN68 = /^[A-Za-z0-9._~+/-]+=*/;

/** Parses every challenge; malformed trailing input ends the list (what came before is kept). */
export function parseChallenges(header: string | null | undefined): Challenge[] {
  const input = header ?? '';
  const challenges: Challenge[] = [];
  let i = 0;
  const skipSpaces = () => {
    while (i < input.length && (input[i] === ' ' || input[i] === '\t')) i++;
  };
  const skipListSeparators = () => {
    while (i < input.length && (input[i] === ' ' || input[i] === '\t' || input[i] === ',')) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < input.length && TCHAR.test(input[i]!)) i++;
    return input.slice(start, i);
  };
  /** True when a token at `i` is followed by BWS "=": an auth-param, not a new challenge. */
  const paramAhead = (): boolean => {
    let j = i;
    while (j < input.length && TCHAR.test(input[j]!)) j++;
    if (j === i) return false;
    while (j < input.length && (input[j] === ' ' || input[j] === '\t')) j++;
    return input[j] === '=';
  };
  const quoted = (): string | undefined => {
    i++; // opening quote
    let out = '';
    while (i < input.length && input[i] !== '"') {
      if (input[i] === '\\' && i + 1 < input.length) i++;
      out += input[i];
      i++;
    }
    if (input[i] !== '"') return undefined;
    i++;
    return out;
  };

  for (;;) {
    skipListSeparators();
    if (i >= input.length) break;
    const scheme = token();
    if (!scheme) break;
    // No prototype: a parameter named `constructor` or `__proto__` is a parameter like any other.
    const params: Record<string, string> = Object.create(null);
    let token68: string | undefined;
    skipSpaces();
    if (i < input.length && input[i] !== ',' && !paramAhead()) {
      const match = TOKEN68.exec(input.slice(i));
      if (match) {
        token68 = match[0];
        i += match[0].length;
      }
    } else {
      while (i < input.length) {
        skipSpaces();
        if (!paramAhead()) break;
        const name = token().toLowerCase();
        skipSpaces();
        i++; // "="
        skipSpaces();
        const value = input[i] === '"' ? quoted() : token();
        if (value === undefined) return [...challenges, { scheme: scheme.toLowerCase(), params }];
        if (!Object.hasOwn(params, name)) params[name] = value;
        skipSpaces();
        if (input[i] !== ',') break;
        // After a comma: another param of this challenge, or the next challenge.
        let j = i;
        while (j < input.length && (input[j] === ',' || input[j] === ' ' || input[j] === '\t')) j++;
        const save = i;
        i = j;
        const more = paramAhead();
        i = more ? j : save;
        if (!more) break;
      }
    }
    challenges.push({ scheme: scheme.toLowerCase(), ...(token68 ? { token68 } : {}), params });
    skipSpaces();
    if (i < input.length && input[i] !== ',') break;
  }
  return challenges;
}

/**
 * The parameters of the `Bearer` challenge (RFC 6750 §3, RFC 9728 §5.1 `resource_metadata`), or
 * undefined when the header has none. Parameters of other challenges never leak into it.
 */
export function bearerChallengeParams(header: string | null): Record<string, string> | undefined {
  const bearer = parseChallenges(header).find((c) => c.scheme === 'bearer');
  return bearer ? { ...bearer.params } : undefined;
}
