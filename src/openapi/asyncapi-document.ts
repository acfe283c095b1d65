import type { SchemaObject } from '@nestjs/swagger';
import { getSchemaPath } from '@nestjs/swagger';
import { PUSH_EVENTS, REQUEST_EVENTS, SocketRefusal } from '../gateway/socket-events.js';

type Class = abstract new (...args: never[]) => unknown;

// Every class the /chats namespace sends or receives: the schemas the AsyncAPI document needs.
export const SOCKET_MODELS: Class[] = [
  ...new Set<Class>([...Object.values(REQUEST_EVENTS).flatMap((e) => [e.payload, e.answer]), ...Object.values(PUSH_EVENTS), SocketRefusal]),
];

export interface AsyncApiDocument {
  asyncapi: '3.0.0';
  info: { title: string; version: string; description: string };
  defaultContentType: string;
  servers: Record<string, unknown>;
  channels: Record<string, { address: string; messages: Record<string, { $ref: string }>; description?: string }>;
  operations: Record<string, AsyncApiOperation>;
  components: { messages: Record<string, AsyncApiMessage>; schemas: Record<string, SchemaObject>; securitySchemes: Record<string, unknown> };
}

export interface AsyncApiOperation {
  action: 'send' | 'receive';
  channel: { $ref: string };
  summary: string;
  messages: { $ref: string }[];
  reply?: { channel: { $ref: string }; messages: { $ref: string }[] };
}

export interface AsyncApiMessage {
  name: string;
  title: string;
  summary?: string;
  payload: SchemaObject | { $ref: string };
}

const CHANNEL = 'chats';
const channelRef = { $ref: `#/channels/${CHANNEL}` };
const messageRef = (key: string) => ({ $ref: `#/channels/${CHANNEL}/messages/${key}` });

// The AsyncAPI 3.0 description of /chats, from the gateway's own event maps (REQUEST_EVENTS,
// PUSH_EVENTS): operations are from the server's side, `receive` for what clients send (its
// acknowledgement is the reply) and `send` for what the server emits. `schemas` are the JSON
// Schemas @nestjs/swagger makes of SOCKET_MODELS (the same machinery as /openapi.json).
export function asyncApiDocument(schemas: Record<string, SchemaObject>, host: string): AsyncApiDocument {
  const messages: Record<string, AsyncApiMessage> = {};
  const operations: Record<string, AsyncApiOperation> = {};
  const payload = (model: Class) => ({ $ref: getSchemaPath(model) });

  for (const [event, { payload: request, answer, emits }] of Object.entries(REQUEST_EVENTS)) {
    const also = emits ? ` The socket also gets the \`${emits}\` event.` : '';
    messages[`client.${event}`] = { name: event, title: event, summary: `Sent by the client, with an optional acknowledgement callback.`, payload: payload(request) };
    messages[`ack.${event}`] = {
      name: event,
      title: `${event} acknowledgement`,
      summary: `What the acknowledgement callback of ${event} receives: the answer, or {error: {code, message}} when refused (an \`error\` event is emitted too).${also}`,
      payload: { oneOf: [payload(answer), payload(SocketRefusal)] },
    };
    operations[`client.${event}`] = {
      action: 'receive',
      channel: channelRef,
      summary: `The client emits ${event}.${also}`,
      messages: [messageRef(`client.${event}`)],
      reply: { channel: channelRef, messages: [messageRef(`ack.${event}`)] },
    };
  }
  for (const [event, model] of Object.entries(PUSH_EVENTS)) {
    messages[`server.${event}`] = { name: event, title: event, payload: payload(model) };
    operations[`server.${event}`] = { action: 'send', channel: channelRef, summary: `The server emits ${event}.`, messages: [messageRef(`server.${event}`)] };
  }

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'chat-backend /chats',
      version: '1',
      description:
        'The Socket.IO namespace /chats (path /socket.io): chat management, live sync across tabs, and the generation events of joined chats. ' +
        'Authenticate in the handshake with `auth: { token }` (a JWT) or `auth: { anon_id }` (or the Authorization / x-anon-id headers); a refused handshake gets `connect_error` whose message is the code.',
    },
    defaultContentType: 'application/json',
    servers: {
      default: { host, protocol: 'ws', pathname: '/socket.io', description: 'Socket.IO (Engine.IO 4) over WebSocket or HTTP long-polling; namespace /chats.', security: [{ $ref: '#/components/securitySchemes/bearer' }, { $ref: '#/components/securitySchemes/anonymous' }] },
    },
    channels: {
      [CHANNEL]: { address: '/chats', description: 'Every event of the namespace.', messages: Object.fromEntries(Object.keys(messages).map((key) => [key, { $ref: `#/components/messages/${key}` }])) },
    },
    operations,
    components: {
      messages,
      schemas,
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'auth: { token } in the handshake, or the Authorization header' },
        anonymous: { type: 'httpApiKey', in: 'header', name: 'x-anon-id', description: 'auth: { anon_id } in the handshake, or the x-anon-id header' },
      },
    },
  };
}
