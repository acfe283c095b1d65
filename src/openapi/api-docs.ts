import { applyDecorators } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiHeader, ApiResponse, ApiSecurity, getSchemaPath, type ContentObject, type SchemaObject } from '@nestjs/swagger';
import { ErrorCode, statusOf } from '../common/errors/error-code.js';
import { ErrorEnvelope, StreamRefusal } from './error-envelope.js';

// The decorators that describe what the plugin cannot read from the types: how each route
// refuses (the error envelope and its codes, by status), what its event streams carry, and who
// may call it. Controllers use these and nothing else from @nestjs/swagger but ApiOperation,
// ApiTags and the plain response decorators.

type Class = abstract new (...args: never[]) => unknown;

// How a route's refusals are written: JSON (the error envelope), as the one assistant_error
// frame of a stream, or as the AI SDK's `<CODE>: <message>` text.
export type RefusalForm = 'json' | 'event-stream' | 'text';

// Every route may answer these.
const ALWAYS = [ErrorCode.INTERNAL_ERROR];

// All of a route's refusals, in one call (two calls would overwrite each other's statuses).
export function ApiRefusals(form: RefusalForm, ...codes: ErrorCode[]) {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of new Set([...codes, ...ALWAYS])) byStatus.set(statusOf(code), [...(byStatus.get(statusOf(code)) ?? []), code]);
  return applyDecorators(
    ApiExtraModels(ErrorEnvelope, StreamRefusal),
    ...[...byStatus].map(([status, inStatus]) => ApiResponse({ status, description: inStatus.join(', '), content: refusalContent(form, inStatus) })),
  );
}

function refusalContent(form: RefusalForm, codes: ErrorCode[]): ContentObject {
  const narrowed = (model: Class) => ({ allOf: [{ $ref: getSchemaPath(model) }, { type: 'object', properties: { code: { type: 'string', enum: codes } } }] });
  if (form === 'json') return { 'application/json': { schema: narrowed(ErrorEnvelope) } };
  if (form === 'event-stream') {
    const frame = eventFrame('assistant_error', StreamRefusal);
    return { 'text/event-stream': { schema: { ...frame, properties: { event: frame.properties.event, data: narrowed(StreamRefusal) } } } };
  }
  return { 'text/plain': { schema: { type: 'string', pattern: `^(${codes.join('|')}): `, example: `${codes[0]}: …` } } };
}

// An SSE response: frames `id: <message id>:<seq>`, `event: <name>`, `data: <JSON payload>`.
export function ApiEventStream(description: string, events: Record<string, Class>) {
  return applyDecorators(
    ApiExtraModels(...new Set(Object.values(events))),
    ApiResponse({
      status: 200,
      description: `${description} Server-Sent Events, one frame per event: ${Object.keys(events).join(', ')}. A comment line \`: ping\` every 15 s of silence.`,
      content: { 'text/event-stream': { schema: { oneOf: Object.entries(events).map(([name, model]) => eventFrame(name, model)) } } },
    }),
  );
}

export function eventFrame(name: string, model: Class): SchemaObject & { properties: Record<string, SchemaObject> } {
  return {
    type: 'object',
    title: name,
    required: ['event', 'data'],
    properties: {
      id: { type: 'string', description: '"<assistant message id>:<seq>", seq counting from 1 (for Last-Event-ID)' },
      event: { type: 'string', enum: [name] },
      data: { $ref: getSchemaPath(model) },
    },
  };
}

// The AI SDK's UI message stream: `data: <chunk>` frames, then `data: [DONE]`.
export function ApiUiMessageStream(description: string, chunks: Class[]) {
  return applyDecorators(
    ApiExtraModels(...chunks),
    ApiResponse({
      status: 200,
      description: `${description} The AI SDK UI message stream, protocol v1 (header \`x-vercel-ai-ui-message-stream: v1\`): each \`data:\` line holds one chunk; \`data: [DONE]\` ends the stream.`,
      headers: { 'x-vercel-ai-ui-message-stream': { schema: { type: 'string', enum: ['v1'] } } },
      content: { 'text/event-stream': { schema: { oneOf: chunks.map((chunk) => ({ $ref: getSchemaPath(chunk) })) } } },
    }),
  );
}

// A route that serves a signed-in user (bearer token) or an anonymous visitor (x-anon-id; absent,
// the server mints one and returns it in x-anon-id). Its refusals include IDENTITY_REFUSALS.
export function ApiIdentity() {
  return applyDecorators(ApiBearerAuth('bearer'), ApiSecurity('anonymous'), ApiSecurity({}));
}

export const IDENTITY_REFUSALS = [ErrorCode.INVALID_ANON_ID, ErrorCode.UNAUTHORIZED] as const;

// A map of events without some of them (which frames a given route can send).
export function omitEvents<M extends Record<string, Class>, K extends keyof M>(events: M, ...names: K[]): Omit<M, K> {
  return Object.fromEntries(Object.entries(events).filter(([name]) => !names.includes(name as K))) as Omit<M, K>;
}

export const ApiLastEventId = () =>
  ApiHeader({ name: 'last-event-id', required: false, description: '"<message id>:<seq>" of the last frame received: the stream goes on after it' });
