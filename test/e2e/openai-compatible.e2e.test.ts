import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { FAKE_OPENAI_REPLY, startFakeOpenAi, type FakeOpenAi } from '../support/fake-openai.js';
import { request } from '../support/http.js';
import { postSse, readSse } from '../support/sse.js';

// An OpenAI-compatible server (Ollama, vLLM, llama.cpp) behind OPENAI_BASE_URL, driven through the
// whole app and the real `openai` SDK.
describe('the send stream on an OpenAI-compatible server', () => {
  let t: TestApp;
  let fake: FakeOpenAi;

  beforeAll(async () => {
    fake = await startFakeOpenAi();
    t = await startTestApp({ env: { OPENAI_BASE_URL: `${fake.url}/v1`, MODELS: 'openai=llama3.2', DEFAULT_MODEL: 'llama3.2' } });
  });
  afterAll(async () => {
    await t.close();
    await fake.close();
  });

  it('streams the answer with the usage the server reported, and stores it', async () => {
    const frames = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'Hello llama' }, { 'x-anon-id': crypto.randomUUID() })).all();
    expect(frames.map((f) => f.event)).toContain('assistant_delta');
    const complete = frames.find((f) => f.event === 'assistant_complete')!;
    expect(complete.data).toMatchObject({ model: 'llama3.2', content: FAKE_OPENAI_REPLY, stop_reason: 'end_turn' });
    expect(complete.data.usage.output_tokens).toBeGreaterThan(0);
    const body = fake.requests[0].body as { model: string; stream: boolean; stream_options: { include_usage: boolean }; messages: { role: string; content: string }[] };
    expect(body).toMatchObject({ model: 'llama3.2', stream: true, stream_options: { include_usage: true } });
    expect(body.messages.at(-1)).toEqual({ role: 'user', content: 'Hello llama' });

    const db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    const row = (await db.query('SELECT status, content, output_tokens FROM messages WHERE id = $1', [complete.data.message_id])).rows[0];
    await db.end();
    expect(row).toEqual({ status: 'complete', content: FAKE_OPENAI_REPLY, output_tokens: complete.data.usage.output_tokens });
  });

  it('maps an overloaded server to PROVIDER_OVERLOADED and keeps serving', async () => {
    const frames = await readSse(await postSse(t.baseUrl, '/api/v1/messages/send', { content: 'busy? [[fake:503]]' }, { 'x-anon-id': crypto.randomUUID() })).all();
    expect(frames.find((f) => f.event === 'assistant_error')?.data).toMatchObject({ code: 'PROVIDER_OVERLOADED', retryable: true });
    expect((await request(t.baseUrl, 'GET', '/api/v1/models')).body.models).toEqual([
      { id: 'llama3.2', provider: 'openai', default: true },
      { id: 'echo', provider: 'echo', default: false },
    ]);
  });
});
