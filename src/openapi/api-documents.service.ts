import type { INestApplication } from '@nestjs/common';
import { Injectable } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule, type OpenAPIObject, type SchemaObject } from '@nestjs/swagger';
import { asyncApiDocument, SOCKET_MODELS, type AsyncApiDocument } from './asyncapi-document.js';
import pluginMetadata from './plugin-metadata.js';

// Matches no module: a document of the extra models alone (the socket payloads).
class NoRoutes {}

// The OpenAPI 3.1 description of the HTTP routes and the AsyncAPI 3.0 one of /chats, made once
// from the running application (its controllers, their decorators and the plugin metadata
// generated from the TypeScript types, see scripts/openapi-metadata.mjs) when first asked.
@Injectable()
export class ApiDocumentsService {
  private app?: INestApplication;
  private built?: Promise<{ openapi: OpenAPIObject; socketSchemas: Record<string, SchemaObject> }>;

  // createApp hands the application over: the document is made from its router's controllers.
  attach(app: INestApplication): void {
    this.app = app;
  }

  async openapi(): Promise<OpenAPIObject> {
    return (await this.build()).openapi;
  }

  async asyncapi(host: string): Promise<AsyncApiDocument> {
    return asyncApiDocument((await this.build()).socketSchemas, host);
  }

  private build() {
    this.built ??= (async () => {
      const app = this.app;
      if (!app) throw new Error('ApiDocumentsService.attach(app) was not called');
      await SwaggerModule.loadPluginMetadata(async () => withDefaultsOptional(await pluginMetadata()));
      const config = new DocumentBuilder()
        .setOpenAPIVersion('3.1.0')
        .setTitle('chat-backend')
        .setVersion('1')
        .setDescription(
          'HTTP routes of the chat backend: auth, models, the send stream (Server-Sent Events), the AI SDK UI message stream, health and metrics. ' +
            'Errors outside a stream are `{status_code, code, message, request_id}`. The Socket.IO namespace /chats is described by /asyncapi.json.',
        )
        .addBearerAuth({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'A signed-in user: the access_token of register or login' }, 'bearer')
        .addApiKey({ type: 'apiKey', in: 'header', name: 'x-anon-id', description: 'An anonymous visitor: a UUID of its own (absent: the server mints one and returns it in x-anon-id)' }, 'anonymous')
        .build();
      const openapi = SwaggerModule.createDocument(app, config);
      const socket = SwaggerModule.createDocument(app, config, { include: [NoRoutes], extraModels: SOCKET_MODELS });
      return { openapi, socketSchemas: (socket.components?.schemas ?? {}) as Record<string, SchemaObject> };
    })();
    return this.built;
  }
}

// A field with a server-side default may be left out: the plugin marks it required because its
// type is not optional (`page: number = 0`).
function withDefaultsOptional<T>(metadata: T): T {
  const visit = (value: unknown) => {
    if (Array.isArray(value)) value.forEach(visit);
    else if (value && typeof value === 'object' && !(value instanceof Promise)) {
      const record = value as Record<string, unknown>;
      if ('default' in record && record.required === true) record.required = false;
      Object.values(record).forEach(visit);
    }
  };
  visit(metadata);
  return metadata;
}
