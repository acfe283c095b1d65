import { Controller, Get, Header, Req } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { ApiRefusals } from './api-docs.js';
import { ApiDocumentsService } from './api-documents.service.js';

// Swagger UI's files come from swagger-ui-dist through the static files (src/web/static-files.ts)
// and public/docs/swagger-init.js: same origin, no inline script, as the CSP wants.
const DOCS_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>chat-backend API</title>
<link rel="stylesheet" href="/docs/swagger-ui.css">
</head>
<body>
<p>The Socket.IO namespace /chats is described by <a href="/asyncapi.json">/asyncapi.json</a> (AsyncAPI 3.0).</p>
<div id="swagger-ui"></div>
<script src="/docs/swagger-ui-bundle.js"></script>
<script src="/docs/swagger-init.js"></script>
</body>
</html>
`;

@ApiTags('docs')
@Controller()
export class DocsController {
  constructor(private readonly documents: ApiDocumentsService) {}

  @Get('openapi.json')
  @ApiOperation({ summary: 'This description: OpenAPI 3.1 of every HTTP route' })
  @ApiOkResponse({ description: 'The OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } })
  @ApiRefusals('json')
  openapi() {
    return this.documents.openapi();
  }

  @Get('docs')
  @Header('Content-Type', 'text/html; charset=utf-8')
  @ApiOperation({ summary: 'A page that renders /openapi.json (Swagger UI)' })
  @ApiProduces('text/html')
  @ApiOkResponse({ description: 'An HTML page', content: { 'text/html': { schema: { type: 'string' } } } })
  @ApiRefusals('json')
  docs(): string {
    return DOCS_PAGE;
  }

  @Get('asyncapi.json')
  @ApiOperation({ summary: 'AsyncAPI 3.0 of the Socket.IO namespace /chats: every event both ways with its payload schema' })
  @ApiOkResponse({ description: 'The AsyncAPI document', content: { 'application/json': { schema: { type: 'object' } } } })
  @ApiRefusals('json')
  asyncapi(@Req() req: Request) {
    return this.documents.asyncapi(req.get('host') ?? 'localhost');
  }
}
