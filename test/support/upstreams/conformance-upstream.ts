import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  acceptedContent,
  completable,
  createMcpHandler,
  fromJsonSchema,
  hostHeaderValidationResponse,
  inputRequired,
  localhostAllowedHostnames,
  localhostAllowedOrigins,
  type McpHttpHandler,
  McpServer,
  originValidationResponse,
  ResourceTemplate,
} from '@modelcontextprotocol/server';
import { z } from 'zod';

/**
 * The 2026-07-28 stateless upstream the conformance runner's `--requirements 2026-07-28` set is
 * pointed at (`@modelcontextprotocol/server` 2.4.0, in process), moved out of
 * `conformance-server.ts`, which re-exports {@link startStatelessUpstream}.
 */

export interface StatelessUpstream {
  /** `http://127.0.0.1:<port>/mcp`. */
  readonly url: string;
  stop(): Promise<void>;
}

const TEST_PNG =
  'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const TEST_WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';

/** SEP-2243: `x-mcp-header` (not in the SDK's JSON Schema type) makes clients send `Mcp-Param-Region`. */
const REGION_HEADER_SCHEMA = {
  type: 'object',
  properties: { region: { type: 'string', 'x-mcp-header': 'Region' } },
  required: ['region'],
} as Parameters<typeof fromJsonSchema>[0];

const textResult = (text: string) => ({ content: [{ type: 'text' as const, text }] });

/**
 * A modern-only (`legacy: 'reject'`) `createMcpHandler` endpoint with the conformance fixture's
 * tools, resources and prompts that the 2026-07-28 requirement set calls by name, and
 * `subscriptions/listen` (`test_trigger_tool_change` / `test_trigger_prompt_change` publish
 * list_changed). {@link startStatelessUpstream} serves it on plain HTTP; a test can also put it
 * behind the demo authorization server (`protectedMcpHandler`).
 */
export function createConformanceHandler(): McpHttpHandler {
  const factory = () => {
    const server = new McpServer(
      { name: 'mcp-edge-conformance-upstream', version: '1.0.0' },
      {
        capabilities: {
          tools: { listChanged: true },
          resources: { subscribe: true, listChanged: true },
          prompts: { listChanged: true },
          completions: {},
        },
      },
    );
    server.registerTool('test_simple_text', { description: 'Text content' }, async () =>
      textResult('This is a simple text response for testing.'),
    );
    server.registerTool('test_image_content', { description: 'Image content' }, async () => ({
      content: [{ type: 'image' as const, data: TEST_PNG, mimeType: 'image/png' }],
    }));
    server.registerTool('test_audio_content', { description: 'Audio content' }, async () => ({
      content: [{ type: 'audio' as const, data: TEST_WAV, mimeType: 'audio/wav' }],
    }));
    const embedded = {
      type: 'resource' as const,
      resource: {
        uri: 'test://embedded-resource',
        mimeType: 'text/plain',
        text: 'Embedded resource content.',
      },
    };
    server.registerTool('test_embedded_resource', { description: 'Embedded resource' }, async () => ({
      content: [embedded],
    }));
    server.registerTool('test_multiple_content_types', { description: 'Mixed content' }, async () => ({
      content: [
        { type: 'text' as const, text: 'Multiple content types test:' },
        { type: 'image' as const, data: TEST_PNG, mimeType: 'image/png' },
        embedded,
      ],
    }));
    server.registerTool('test_error_handling', { description: 'Always fails' }, async () => {
      throw new Error('This tool intentionally returns an error for testing');
    });
    server.registerTool(
      'test_tool_with_progress',
      { description: 'Progress notifications', inputSchema: z.object({}) },
      async (_args, ctx) => {
        const progressToken = ctx.mcpReq._meta?.progressToken ?? 0;
        for (const progress of [0, 50, 100]) {
          await ctx.mcpReq.notify({
            method: 'notifications/progress',
            params: { progressToken, progress, total: 100 },
          });
        }
        return textResult(String(progressToken));
      },
    );
    server.registerTool(
      'test_input_required_result_elicitation',
      { description: 'input_required (MRTR) elicitation', inputSchema: z.object({}) },
      async (_args, ctx) => {
        const schema = z.object({ name: z.string() });
        const answer = acceptedContent(ctx.mcpReq.inputResponses, 'user_name', schema);
        if (!answer) {
          return inputRequired({
            inputRequests: {
              user_name: inputRequired.elicit({ message: 'Your name?', requestedSchema: schema }),
            },
          });
        }
        return textResult(`Hello, ${answer.name}`);
      },
    );
    server.registerTool(
      'test_custom_headers',
      {
        description: 'An x-mcp-header parameter (sent as Mcp-Param-Region)',
        inputSchema: fromJsonSchema<{ region: string }>(REGION_HEADER_SCHEMA),
      },
      async (args) => textResult(`region=${args.region}`),
    );
    server.registerTool(
      'test_trigger_tool_change',
      { description: 'Publishes tools list_changed' },
      async () => {
        handler.notify.toolsChanged();
        return textResult('tools changed');
      },
    );
    server.registerTool(
      'test_trigger_prompt_change',
      { description: 'Publishes prompts list_changed' },
      async () => {
        handler.notify.promptsChanged();
        return textResult('prompts changed');
      },
    );
    server.registerResource('static-text', 'test://static-text', { mimeType: 'text/plain' }, async (uri) => ({
      contents: [
        { uri: uri.href, mimeType: 'text/plain', text: 'This is the content of the static text resource.' },
      ],
    }));
    server.registerResource(
      'static-binary',
      'test://static-binary',
      { mimeType: 'image/png' },
      async (uri) => ({
        contents: [{ uri: uri.href, mimeType: 'image/png', blob: TEST_PNG }],
      }),
    );
    server.registerResource(
      'template',
      new ResourceTemplate('test://template/{id}/data', { list: undefined }),
      { mimeType: 'application/json' },
      async (uri, { id }) => ({
        contents: [
          { uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true }) },
        ],
      }),
    );
    server.registerPrompt('test_simple_prompt', { description: 'Simple prompt' }, async () => ({
      messages: [
        { role: 'user' as const, content: { type: 'text' as const, text: 'This is a simple prompt.' } },
      ],
    }));
    server.registerPrompt(
      'test_prompt_with_arguments',
      {
        description: 'Prompt with arguments',
        argsSchema: z.object({
          arg1: completable(z.string(), (value) =>
            ['paris', 'park', 'party'].filter((v) => v.startsWith(value ?? '')),
          ),
          arg2: z.string(),
        }),
      },
      async ({ arg1, arg2 }) => ({
        messages: [
          {
            role: 'user' as const,
            content: { type: 'text' as const, text: `Prompt with arguments: arg1='${arg1}', arg2='${arg2}'` },
          },
        ],
      }),
    );
    server.registerPrompt(
      'test_prompt_with_embedded_resource',
      { description: 'Prompt with an embedded resource', argsSchema: z.object({ resourceUri: z.string() }) },
      async ({ resourceUri }) => ({
        messages: [
          {
            role: 'user' as const,
            content: {
              type: 'resource' as const,
              resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content.' },
            },
          },
          { role: 'user' as const, content: { type: 'text' as const, text: 'Process the resource above.' } },
        ],
      }),
    );
    server.registerPrompt('test_prompt_with_image', { description: 'Prompt with an image' }, async () => ({
      messages: [
        { role: 'user' as const, content: { type: 'image' as const, data: TEST_PNG, mimeType: 'image/png' } },
        { role: 'user' as const, content: { type: 'text' as const, text: 'Describe the image above.' } },
      ],
    }));
    return server;
  };
  const handler = createMcpHandler(factory, { legacy: 'reject' });
  return handler;
}

/**
 * {@link createConformanceHandler} on plain HTTP at `http://127.0.0.1:<port>/mcp`, `Host`/`Origin`
 * validation in front. Direct, `--requirements 2026-07-28` passes all
 * but server-stateless (4 checks needing fixture tools it lacks: test_missing_capability,
 * test_streaming_elicitation, test_logging_tool) and 8 input-required-result scenarios (their
 * fixture tools), plus the unscored tasks/json-schema extensions.
 */
export async function startStatelessUpstream(): Promise<StatelessUpstream> {
  const handler = createConformanceHandler();
  const server = createServer(async (req, res) => {
    const abort = new AbortController();
    res.once('close', () => abort.abort());
    try {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const url = `http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`;
      const request = new Request(url, {
        method: req.method ?? 'GET',
        headers: webHeaders(req.headers),
        body: req.method === 'GET' || req.method === 'HEAD' ? undefined : Buffer.concat(chunks),
        signal: abort.signal,
      });
      const response =
        hostHeaderValidationResponse(request, localhostAllowedHostnames()) ??
        originValidationResponse(request, localhostAllowedOrigins()) ??
        (new URL(url).pathname === '/mcp'
          ? await handler.fetch(request)
          : new Response(null, { status: 404 }));
      const responseHeaders: Record<string, string> = {};
      response.headers.forEach((value, name) => {
        responseHeaders[name] = value;
      });
      res.writeHead(response.status, responseHeaders);
      if (!response.body) return void res.end();
      res.flushHeaders();
      const reader = response.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done || res.destroyed) break;
        res.write(value);
      }
      if (res.destroyed) await reader.cancel();
      res.end();
    } catch (error) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(error instanceof Error ? error.message : String(error));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/mcp`,
    stop: async () => {
      await handler.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function webHeaders(headers: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const v of value) out.append(name, v);
    else if (value !== undefined) out.set(name, value);
  }
  return out;
}
