import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { documentSettled, HANDBOOK_FACT, handbookMarkdown, MANUAL_FACT, MANUAL_PAGES, uploadDocument } from '../support/documents.js';
import { fakeAnthropicEnv, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { registerUser, request } from '../support/http.js';
import { makePdf } from '../support/pdf.js';
import { closeAllSockets, connectChats, type TestSocket } from '../support/socket.js';
import { postSse, readSse, type SseFrame } from '../support/sse.js';

// Issue 13's walk-through: a project with a Markdown handbook and a PDF manual, answers that
// stream their sources first and cite them, and a second user who sees none of it.
describe('documents, projects and answers with sources', () => {
  let fake: FakeAnthropic;
  let t: TestApp;
  let auth: Record<string, string>;
  let socket: TestSocket;
  let projectId: string;
  let handbookId: string;
  let manualId: string;
  let chatId: string;
  const statusFrom = { value: 0 };

  beforeAll(async () => {
    fake = await startFakeAnthropic();
    t = await startTestApp({ env: fakeAnthropicEnv(fake) });
    const user = await registerUser(t.baseUrl);
    auth = { authorization: `Bearer ${user.token}` };
    socket = await connectChats(t.baseUrl, { auth: { token: user.token } });
  });
  afterAll(async () => {
    closeAllSockets();
    await t.close();
    await fake.close();
  });

  // The frames of one answer, and what the fake model was sent for it.
  async function ask(body: Record<string, unknown>, headers = auth) {
    const before = fake.requests.length;
    const res = await postSse(t.baseUrl, '/api/v1/messages/send', body, headers);
    expect(res.status).toBe(200);
    const frames = await readSse(res).all();
    const upstream = fake.requests.slice(before).find((r) => r.path === '/v1/messages');
    return { frames, events: frames.map((f) => f.event), upstream: upstream?.body as { system?: string; messages: { content: string }[] } | undefined };
  }
  const sourcesOf = (frames: SseFrame[]) => frames.find((f) => f.event === 'message_sources')?.data;

  it('creates a project and lets its owner join its room', async () => {
    const created = await request(t.baseUrl, 'POST', '/api/v1/projects', { body: { name: '  Coast station  ' }, headers: auth });
    expect(created.status).toBe(201);
    expect(created.body.project).toMatchObject({ name: 'Coast station', document_count: 0 });
    projectId = created.body.project.id;
    const from = socket.mark();
    expect(await socket.ask('join_project', { project_id: projectId })).toEqual({ project_id: projectId });
    expect(await socket.waitFor('project_joined', { from })).toEqual({ project_id: projectId });
    statusFrom.value = socket.mark();
  });

  it('takes a Markdown file and a PDF at once (202) and pushes their progress until both are ready', async () => {
    const md = await uploadDocument(t.baseUrl, auth, { name: 'handbook.md', content: handbookMarkdown(), type: 'text/markdown' }, projectId);
    expect(md.status).toBe(202);
    expect(md.body.document).toMatchObject({ project_id: projectId, filename: 'handbook.md', media_type: 'text/markdown', status: 'processing' });
    handbookId = md.body.document.id;
    // The client's type says nothing: the bytes say PDF.
    const pdf = await uploadDocument(t.baseUrl, auth, { name: 'manual.pdf', content: makePdf(MANUAL_PAGES), type: 'application/octet-stream' }, projectId);
    expect(pdf.status).toBe(202);
    expect(pdf.body.document).toMatchObject({ media_type: 'application/pdf', status: 'processing' });
    manualId = pdf.body.document.id;

    for (const id of [handbookId, manualId]) {
      const ready = await socket.waitFor('document_status', { from: statusFrom.value, where: (s) => s.document_id === id && s.status !== 'processing', timeoutMs: 15_000 });
      expect(ready).toMatchObject({ document_id: id, project_id: projectId, status: 'ready', progress: 100 });
      expect(ready.chunk_count).toBeGreaterThan(0);
      const progress = socket.all('document_status', statusFrom.value).filter((s) => s.document_id === id).map((s) => s.progress);
      // Real progress: it starts at 0, climbs through values in between and never goes back.
      expect(progress[0]).toBe(0);
      expect(progress.some((p: number) => p > 0 && p < 100)).toBe(true);
      expect([...progress].sort((a, b) => a - b)).toEqual(progress);
    }
    // The socket is in the project's room and is the owner: each push reached it once.
    const added = socket.all('project_updated', statusFrom.value).filter((u) => u.type === 'document_added');
    expect(added.map((u) => u.data.document.id).sort()).toEqual([handbookId, manualId].sort());

    const listed = await request(t.baseUrl, 'GET', `/api/v1/documents?project_id=${projectId}`, { headers: auth });
    expect(listed.status).toBe(200);
    const handbook = listed.body.documents.find((d: { id: string }) => d.id === handbookId);
    expect(handbook).toMatchObject({ status: 'ready', chunk_count: expect.any(Number), bytes: Buffer.byteLength(handbookMarkdown()) });
    expect(handbook.chunk_count).toBeGreaterThan(10);
    expect(handbook.error).toBeUndefined();
    expect((await documentSettled(t.baseUrl, auth, manualId)).chunk_count).toBeGreaterThan(0);
    const projects = await request(t.baseUrl, 'GET', '/api/v1/projects', { headers: auth });
    expect(projects.body.projects).toEqual([expect.objectContaining({ id: projectId, document_count: 2 })]);
  });

  it('streams the passage that holds a fact deep inside the Markdown before the first delta, gives it to the model and stores it with the answer', async () => {
    const { frames, events, upstream } = await ask({ content: 'Who is the lighthouse keeper on Skerry Island?', project_id: projectId });
    expect(events.slice(0, 3)).toEqual(['assistant_typing', 'message_sources', 'assistant_delta']);
    expect(events.at(-2)).toBe('assistant_complete');
    const typing = frames[0].data;
    chatId = typing.chat_id;
    const sources = sourcesOf(frames);
    expect(sources).toMatchObject({ chat_id: chatId, message_id: typing.message_id });
    expect(sources.sources.length).toBeGreaterThan(0);
    expect(sources.sources.length).toBeLessThanOrEqual(5);
    const best = sources.sources[0];
    expect(best).toMatchObject({ document_id: handbookId, filename: 'handbook.md', metadata: { heading: 'People on the coast' } });
    expect(best.content).toContain(HANDBOOK_FACT);
    expect(best.score).toBeGreaterThan(0);
    // The passage reached the model, numbered for citation.
    expect(upstream!.system).toContain(`[1] handbook.md, section "People on the coast"\n${best.content}`);
    expect(upstream!.system).toMatch(/cite .*\[1\], \[2\]/);
    // The user's words go to the model as they were: the passages ride in the system prompt.
    expect(upstream!.messages.at(-1)!.content).toBe('Who is the lighthouse keeper on Skerry Island?');

    const listed = await socket.ask('list_messages', { chat_id: chatId });
    const answer = listed.messages.find((m: { id: string }) => m.id === typing.message_id);
    expect(answer.status).toBe('complete');
    expect(answer.sources).toEqual(sources.sources);
    expect(listed.messages.find((m: { role: string }) => m.role === 'user').sources).toEqual([]);
    // The chat belongs to the project.
    const chats = await socket.ask('list_chats', {});
    expect(chats.chats.find((c: { id: string }) => c.id === chatId)).toMatchObject({ project_id: projectId });
    expect(socket.all('chat_created').find((c) => c.chat.id === chatId).chat.project_id).toBe(projectId);
  });

  it('finds the PDF for a question about its text, with the page', async () => {
    // In the same chat: its project is searched, no project_id needed.
    const { frames, upstream } = await ask({ chat_id: chatId, content: 'How much glycol does the coolant pump need?' });
    const best = sourcesOf(frames).sources[0];
    expect(best).toMatchObject({ document_id: manualId, filename: 'manual.pdf', metadata: { page: 2 } });
    expect(best.content).toContain(MANUAL_FACT);
    expect(upstream!.system).toContain(`[1] manual.pdf, page 2\n${best.content}`);
  });

  it('searches again on regenerate', async () => {
    const before = fake.requests.length;
    const res = await postSse(t.baseUrl, '/api/v1/messages/regenerate', { chat_id: chatId }, auth);
    const frames = await readSse(res).all();
    expect(frames.map((f) => f.event).slice(0, 3)).toEqual(['assistant_regenerating', 'assistant_typing', 'message_sources']);
    expect(sourcesOf(frames).sources[0].document_id).toBe(manualId);
    expect((fake.requests[before].body as { system: string }).system).toContain(MANUAL_FACT);
  });

  it('sends the sources to a socket that sent the message, and to the chat’s room, before the first delta', async () => {
    const watcher = await connectChats(t.baseUrl, { auth: { token: auth.authorization.slice(7) } });
    await watcher.ask('join_chat', { chat_id: chatId });
    const from = socket.mark();
    const watched = watcher.mark();
    const ack = await socket.ask('send_message', { chat_id: chatId, content: 'Remind me who keeps the lighthouse on Skerry Island.' });
    await socket.waitFor('assistant_complete', { from, where: (d) => d.message_id === ack.message_id });
    for (const [s, mark] of [[socket, from], [watcher, watched]] as const) {
      await s.waitFor('assistant_complete', { from: mark, where: (d) => d.message_id === ack.message_id });
      const names = s.received.slice(mark).filter((r) => r.data?.message_id === ack.message_id).map((r) => r.event);
      expect(names.slice(0, 3)).toEqual(['assistant_typing', 'message_sources', 'assistant_delta']);
      expect(s.all('message_sources', mark).at(-1).sources[0].document_id).toBe(handbookId);
    }
    watcher.close();
  });

  it('sends no sources and adds nothing to the prompt with use_documents: false', async () => {
    const { events, upstream } = await ask({ chat_id: chatId, content: 'Who is the lighthouse keeper on Skerry Island?', use_documents: false });
    expect(events).not.toContain('message_sources');
    expect(upstream!.system ?? '').not.toContain('Oswin');
  });

  it('shows another user no project and no document, on every route, as if they did not exist', async () => {
    const other = await registerUser(t.baseUrl);
    const headers = { authorization: `Bearer ${other.token}` };
    expect((await request(t.baseUrl, 'GET', '/api/v1/projects', { headers })).body).toEqual({ projects: [] });
    expect((await request(t.baseUrl, 'GET', '/api/v1/documents', { headers })).body).toEqual({ documents: [] });
    const unknown = crypto.randomUUID();
    for (const id of [projectId, unknown]) {
      const listed = await request(t.baseUrl, 'GET', `/api/v1/documents?project_id=${id}`, { headers });
      expect(listed.status).toBe(404);
      expect(listed.body.code).toBe('PROJECT_NOT_FOUND');
      expect((await request(t.baseUrl, 'GET', `/api/v1/projects/${id}`, { headers })).body.code).toBe('PROJECT_NOT_FOUND');
      expect((await request(t.baseUrl, 'PATCH', `/api/v1/projects/${id}`, { body: { name: 'Mine now' }, headers })).body.code).toBe('PROJECT_NOT_FOUND');
      const upload = await uploadDocument(t.baseUrl, headers, { name: 'x.md', content: '# x' }, id);
      expect([upload.status, upload.body.code]).toEqual([404, 'PROJECT_NOT_FOUND']);
      const sent = await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'Who is the lighthouse keeper?', project_id: id }, headers);
      expect(sent.status).toBe(404);
      const frames = await readSse(sent).all();
      expect(frames).toEqual([expect.objectContaining({ event: 'assistant_error', data: expect.objectContaining({ code: 'PROJECT_NOT_FOUND' }) })]);
    }
    for (const id of [handbookId, crypto.randomUUID()]) {
      const deleted = await request(t.baseUrl, 'DELETE', `/api/v1/documents/${id}`, { headers });
      expect([deleted.status, deleted.body.code]).toEqual([404, 'DOCUMENT_NOT_FOUND']);
    }
    // Nothing was stored for the refused sends: no chat appeared.
    const theirSocket = await connectChats(t.baseUrl, { auth: { token: other.token } });
    expect((await theirSocket.ask('list_chats', {})).total).toBe(0);
    const refused = await theirSocket.ask('join_project', { project_id: projectId });
    expect(refused.error.code).toBe('PROJECT_NOT_FOUND');
    // Their own questions search their own (no) documents: no sources frame at all.
    const { events, upstream } = await ask({ content: 'Who is the lighthouse keeper on Skerry Island?' }, headers);
    expect(events).not.toContain('message_sources');
    expect(upstream!.system ?? '').not.toContain('Oswin');
    theirSocket.close();
  });

  it('never gives a deleted document as a source again, and tells the project’s room', async () => {
    const from = socket.mark();
    const deleted = await request(t.baseUrl, 'DELETE', `/api/v1/documents/${handbookId}`, { headers: auth });
    expect(deleted.status).toBe(204);
    expect(await socket.waitFor('project_updated', { from, where: (u) => u.type === 'document_deleted' })).toEqual({
      project_id: projectId,
      type: 'document_deleted',
      data: { document_id: handbookId },
    });
    const { frames, upstream } = await ask({ chat_id: chatId, content: 'Who is the lighthouse keeper on Skerry Island?' });
    const sources = sourcesOf(frames)?.sources ?? [];
    expect(sources.map((s: { document_id: string }) => s.document_id)).not.toContain(handbookId);
    expect(upstream!.system ?? '').not.toContain('Oswin');
    expect((await request(t.baseUrl, 'DELETE', `/api/v1/documents/${handbookId}`, { headers: auth })).body.code).toBe('DOCUMENT_NOT_FOUND');
    // Stored answers keep what they were given.
    const listed = await socket.ask('list_messages', { chat_id: chatId });
    expect(listed.messages.some((m: { sources: { document_id: string }[] }) => m.sources.some((s) => s.document_id === handbookId))).toBe(true);
  });

  it('renames a project and tells its room', async () => {
    const from = socket.mark();
    const renamed = await request(t.baseUrl, 'PATCH', `/api/v1/projects/${projectId}`, { body: { name: 'Harbour' }, headers: auth });
    expect(renamed.body.project).toMatchObject({ id: projectId, name: 'Harbour', document_count: 1 });
    expect(await socket.waitFor('project_updated', { from, where: (u) => u.type === 'renamed' })).toMatchObject({ project_id: projectId, data: { project: { name: 'Harbour' } } });
    expect(await socket.ask('leave_project', { project_id: projectId })).toEqual({ project_id: projectId });
  });
});
