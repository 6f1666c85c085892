import { describe, expect, it } from 'vitest';
import { escapeHtml, html, page, Raw, raw, redirect, refusalPage } from '../../../functions/core/web/html.ts';

describe('escapeHtml', () => {
  it('escapes every character that can end text or an attribute', () => {
    expect(escapeHtml(`<a href="x" onclick='y'>&\`</a>`)).toBe(
      '&#60;a href=&#34;x&#34; onclick=&#39;y&#39;&#62;&#38;&#96;&#60;/a&#62;',
    );
  });

  it('leaves other text, including non-ASCII, as it is', () => {
    expect(escapeHtml('Grüße, 日本 — ok')).toBe('Grüße, 日本 — ok');
  });
});

describe('html', () => {
  it('escapes interpolated values, in text and in attributes', () => {
    const name = '"><script>alert(1)</script>';
    const out = html`<p title="${name}">${name}</p>`.value;
    expect(out).not.toContain('<script>');
    expect(out).not.toContain('"><');
    expect(out).toBe(
      '<p title="&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;">&#34;&#62;&#60;script&#62;alert(1)&#60;/script&#62;</p>',
    );
  });

  it('passes nested templates and raw() through, and joins arrays', () => {
    const items = ['<a>', '<b>'].map((x) => html`<li>${x}</li>`);
    expect(html`<ul>${items}</ul>`.value).toBe('<ul><li>&#60;a&#62;</li><li>&#60;b&#62;</li></ul>');
    expect(html`${raw('<br>')}`.value).toBe('<br>');
    expect(html`x`).toBeInstanceOf(Raw);
  });

  it('renders undefined, null and false as nothing, and 0 as 0', () => {
    expect(html`[${undefined}${null}${false}${0}]`.value).toBe('[0]');
  });

  it('escapes an array of strings element by element', () => {
    expect(html`${['<', '>']}`.value).toBe('&#60;&#62;');
  });
});

describe('page', () => {
  it('is never cached, sniffed or framed, runs no script and posts forms only to itself', async () => {
    const res = page(200, 'T <x>', html`<p>body</p>`);
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    expect(res.headers.get('x-frame-options')).toBe('DENY');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toMatch(/script-src/);
    expect(await res.text()).toContain('<title>T &#60;x&#62; · MCP Edge</title>');
  });
});

describe('refusalPage', () => {
  it('shows a detail only when it is a short identifier', async () => {
    expect(
      await refusalPage('client_document_invalid', { detail: 'doc.client_id_mismatch' }).text(),
    ).toContain('<code>doc.client_id_mismatch</code>');
    const hostile = await refusalPage('client_document_invalid', { detail: '<script>x</script>' }).text();
    expect(hostile).not.toContain('script>');
    expect(hostile).toContain('<code>client_document_invalid</code>');
  });
});

describe('redirect', () => {
  it('is a 303 with no body, never cached, leaking no referrer, with each cookie on its own header', () => {
    const res = redirect('/x', { 'x-extra': '1' }, ['a=1', 'b=2']);
    expect(res.status).toBe(303);
    expect(res.headers.get('location')).toBe('/x');
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
    expect(res.headers.getSetCookie()).toEqual(['a=1', 'b=2']);
    expect(res.body).toBeNull();
  });

  it('cannot carry a header injection: a CR LF in the location is refused by the platform', () => {
    expect(() => redirect('/x\r\nSet-Cookie: a=b')).toThrow();
  });
});
