import { REFUSAL_HEADER, REFUSALS, type RefusalCode, safeDetail } from '../refusals.ts';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A tagged template whose interpolations are escaped unless wrapped with {@link raw}. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Raw {
  let out = strings[0] ?? '';
  values.forEach((value, i) => {
    out += render(value) + (strings[i + 1] ?? '');
  });
  return new Raw(out);
}

export class Raw {
  constructor(readonly value: string) {}
}

export function raw(value: string): Raw {
  return new Raw(value);
}

function render(value: unknown): string {
  if (value instanceof Raw) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  if (value === undefined || value === null || value === false) return '';
  return escapeHtml(String(value));
}

const CSP = [
  "default-src 'none'",
  "style-src 'unsafe-inline'",
  "img-src 'self' data:",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:44rem;margin:3rem auto;padding:0 1rem;color:#1b1f24}
h1{font-size:1.5rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #d0d7de;padding:.5rem;text-align:left}
.ok{color:#1a7f37;font-weight:600}.no{color:#9a6700;font-weight:600}.err{color:#cf222e}
button,.button{font:inherit;padding:.4rem .9rem;border-radius:6px;border:1px solid #1f6feb;background:#1f6feb;color:#fff;text-decoration:none;cursor:pointer}
button.secondary{background:#fff;color:#1f6feb}code{background:#f6f8fa;padding:.1rem .3rem;border-radius:4px}footer{margin-top:2rem;color:#57606a;font-size:.9rem}`;

/** A complete page for people: no scripts, strict CSP, never cached, never framed. */
export function page(
  status: number,
  title: string,
  body: Raw,
  headers: Record<string, string> = {},
  head: Raw = raw(''),
): Response {
  const doc = html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">${head}
<title>${title} · MCP Edge</title><style>${raw(STYLE)}</style></head>
<body><main><h1>${title}</h1>${body}</main><footer>MCP Edge gateway</footer></body></html>`;
  return new Response(doc.value, {
    status,
    headers: {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
      'content-security-policy': CSP,
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'DENY',
      // same-origin, not no-referrer: form POSTs from our pages must carry a real Origin header
      // (no-referrer makes browsers send "Origin: null", which the CSRF check refuses).
      'referrer-policy': 'same-origin',
      ...headers,
    },
  });
}

/**
 * A page explaining a refusal of the catalogue to a person: its status, title and message, the
 * stable code for support (also in the `x-mcp-edge-refusal` header), the detail when there is one
 * (a rule or field name, never the request's own text), and `body` for what a particular refusal
 * needs to say more (e.g. what an operator must configure).
 */
export function refusalPage(
  code: RefusalCode,
  options: { detail?: string; headers?: Record<string, string>; body?: Raw } = {},
): Response {
  const { status, title, message } = REFUSALS[code];
  const detail = safeDetail(options.detail);
  return page(
    status,
    title,
    html`<p class="err">${message}</p>${options.body ?? ''}<p>Error code: <code>${code}</code>${
      detail ? html` (<code>${detail}</code>)` : ''
    }</p>`,
    { ...options.headers, [REFUSAL_HEADER]: code },
  );
}

/** A 303 redirect that carries no body and is never cached. */
export function redirect(
  location: string,
  headers: Record<string, string> = {},
  cookies: string[] = [],
): Response {
  const h = new Headers({
    location,
    'cache-control': 'no-store',
    'referrer-policy': 'no-referrer',
    ...headers,
  });
  for (const c of cookies) h.append('set-cookie', c);
  return new Response(null, { status: 303, headers: h });
}
