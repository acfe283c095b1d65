import { io } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ChatApiError,
  connectChats,
  createProject,
  deleteDocument,
  listDocuments,
  listProjects,
  renameProject,
  request,
  sendMessage,
  uploadDocument,
  whenConnected,
  type DocumentStatusEvent,
  type MessageSource,
} from '../../client/src/index.js';
import { startTestApp, type TestApp } from '../support/app.js';
import { HANDBOOK_FACT, handbookMarkdown } from '../support/documents.js';

// The typed client's projects and documents helpers from Node (fetch: no upload progress here).
describe('typed client: projects and documents', () => {
  let t: TestApp;
  const headers = { 'x-anon-id': crypto.randomUUID() };

  beforeAll(async () => {
    t = await startTestApp({ env: { MAX_DOCUMENT_BYTES: '65536' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('creates a project, uploads into it, follows document_status, answers with typed sources, deletes', async () => {
    const socket = connectChats(io, t.baseUrl, { anon_id: headers['x-anon-id'] }, { transports: ['websocket'] });
    await whenConnected(socket);
    const statuses: DocumentStatusEvent[] = [];
    socket.on('document_status', (s) => statuses.push(s));

    const { project } = await createProject(t.baseUrl, 'Client project', { headers });
    expect(await request(socket, 'join_project', { project_id: project.id })).toEqual({ project_id: project.id });
    const file = new File([handbookMarkdown()], 'handbook.md', { type: 'text/markdown' });
    const { document } = await uploadDocument(t.baseUrl, file, { headers, projectId: project.id });
    expect(document).toMatchObject({ filename: 'handbook.md', status: 'processing', project_id: project.id });
    await expect.poll(() => statuses.find((s) => s.document_id === document.id && s.status === 'ready'), { timeout: 10_000 }).toBeDefined();

    const listed = await listDocuments(t.baseUrl, { projectId: project.id }, { headers });
    expect(listed.documents.map((d) => d.status)).toEqual(['ready']);
    expect((await listProjects(t.baseUrl, { headers })).projects[0]).toMatchObject({ id: project.id, document_count: 1 });
    expect((await renameProject(t.baseUrl, project.id, 'Renamed', { headers })).project.name).toBe('Renamed');

    let sources: MessageSource[] = [];
    for await (const frame of sendMessage(t.baseUrl, { content: 'Who is the lighthouse keeper on Skerry Island?', project_id: project.id }, { headers })) {
      if (frame.event === 'message_sources') sources = frame.data.sources;
    }
    expect(sources[0].content).toContain(HANDBOOK_FACT);

    await deleteDocument(t.baseUrl, document.id, { headers });
    const again = await deleteDocument(t.baseUrl, document.id, { headers }).catch((e: unknown) => e);
    expect(again).toBeInstanceOf(ChatApiError);
    expect((again as ChatApiError).code).toBe('DOCUMENT_NOT_FOUND');
    socket.disconnect();
  });

  it('rejects refusals with their codes', async () => {
    const refusal = (p: Promise<unknown>) => p.then(() => undefined, (e: unknown) => e as ChatApiError);
    const tooLarge = await refusal(uploadDocument(t.baseUrl, new Blob([new Uint8Array(70_000).fill(97)]), { headers, filename: 'big.txt' }));
    expect([tooLarge?.code, tooLarge?.status]).toEqual(['PAYLOAD_TOO_LARGE', 413]);
    const binary = await refusal(uploadDocument(t.baseUrl, new Blob([new Uint8Array([0, 1, 2, 3, 255, 254])]), { headers, filename: 'x.bin' }));
    expect([binary?.code, binary?.status]).toEqual(['UNSUPPORTED_DOCUMENT', 415]);
    const foreign = await refusal(listDocuments(t.baseUrl, { projectId: crypto.randomUUID() }, { headers }));
    expect(foreign?.code).toBe('PROJECT_NOT_FOUND');
  });
});
