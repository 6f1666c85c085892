import { describe, expect, it } from 'vitest';
import type { ClientMessage } from '../../../functions/core/proxy/jsonrpc.ts';
import { checkMethodHeaders } from '../../../functions/core/proxy/method-headers.ts';

const call = (
  params: Record<string, unknown>,
  method = 'tools/call',
  id: string | number = 'r1',
): ClientMessage => ({
  id,
  method,
  params,
  isRequest: true,
});

async function mismatch(headers: Record<string, string>, message: ClientMessage) {
  const res = checkMethodHeaders(new Headers(headers), message);
  if (!res) return undefined;
  return {
    status: res.status,
    refusal: res.headers.get('x-mcp-edge-refusal'),
    body: (await res.json()) as { id: unknown; error: { code: number; data: { error: string } } },
  };
}

describe('checkMethodHeaders', () => {
  it('lets a request without Mcp-Method or Mcp-Name through (2025-era clients)', async () => {
    expect(await mismatch({}, call({ name: 'echo' }))).toBeUndefined();
  });

  it('lets through headers that say what the body says', async () => {
    expect(
      await mismatch({ 'mcp-method': 'tools/call', 'mcp-name': 'echo' }, call({ name: 'echo' })),
    ).toBeUndefined();
    expect(
      await mismatch(
        { 'mcp-method': 'resources/read', 'mcp-name': 'file:///a.txt' },
        call({ uri: 'file:///a.txt' }, 'resources/read'),
      ),
    ).toBeUndefined();
  });

  it.each([
    ['another method', { 'mcp-method': 'tools/list' }, call({ name: 'echo' }), 'mcp_method_mismatch'],
    [
      'a method on a response',
      { 'mcp-method': 'tools/call' },
      { id: 4, isRequest: false } as ClientMessage,
      'mcp_method_mismatch',
    ],
    ['another tool', { 'mcp-name': 'delete_everything' }, call({ name: 'echo' }), 'mcp_name_mismatch'],
    [
      'another resource',
      { 'mcp-name': 'file:///b' },
      call({ uri: 'file:///a' }, 'resources/read'),
      'mcp_name_mismatch',
    ],
    ['an empty name for a named call', { 'mcp-name': '' }, call({ name: 'echo' }), 'mcp_name_mismatch'],
    ['a name differing in case', { 'mcp-name': 'Echo' }, call({ name: 'echo' }), 'mcp_name_mismatch'],
  ])('answers 400 with -32020, echoing the id, for %s', async (_name, headers, message, refusal) => {
    const answer = await mismatch(headers, message);
    expect(answer).toMatchObject({
      status: 400,
      refusal,
      body: { id: message.id, error: { code: -32020, data: { error: refusal } } },
    });
  });

  it('leaves Mcp-Name to the upstream for a method that names nothing (tools/list)', async () => {
    expect(await mismatch({ 'mcp-name': 'echo' }, call({}, 'tools/list'))).toBeUndefined();
  });

  it('compares the base64 form of Mcp-Name decoded, and tasks/* against params.taskId', async () => {
    const encoded = `=?base64?${Buffer.from('grüße').toString('base64')}?=`;
    expect(await mismatch({ 'mcp-name': encoded }, call({ name: 'grüße' }, 'prompts/get'))).toBeUndefined();
    expect(await mismatch({ 'mcp-name': 't-1' }, call({ taskId: 't-1' }, 'tasks/get'))).toBeUndefined();
    expect(await mismatch({ 'mcp-name': 't-2' }, call({ taskId: 't-1' }, 'tasks/get'))).toMatchObject({
      status: 400,
    });
  });

  it('echoes a numeric id', async () => {
    expect(await mismatch({ 'mcp-method': 'x' }, call({}, 'tools/list', 9))).toMatchObject({
      body: { id: 9 },
    });
  });
});
