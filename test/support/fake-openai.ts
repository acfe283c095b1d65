import { chunkText, FAKE_LONG_CHUNKS, startFakeUpstream, type FakeExchange, type FakeUpstream } from './fake-anthropic.js';

// A local OpenAI-compatible server (as Ollama or vLLM): POST /v1/chat/completions streamed as
// `data: {chat.completion.chunk}` lines, a usage chunk when stream_options.include_usage is set,
// then `data: [DONE]`; POST /v1/embeddings answered with deterministic vectors (see fakeEmbedding). Point OPENAI_BASE_URL at `fake.url + '/v1'`. Scenario choice as in
// fake-anthropic.ts: queued (FIFO), then a "[[fake:<name>]]" marker in the last user message,
// then `fake.defaultScenario`.

export type FakeOpenAiScenario =
  // Honours max_tokens (~4 characters per token) with finish_reason "length".
  | { kind: 'text'; chunks: string[]; chunkDelayMs?: number; firstTokenDelayMs?: number; finishReason?: string; promptTokens?: number }
  // OpenAI's error JSON; 429 carries `retry-after: 0` unless headers say otherwise.
  | { kind: 'http-error'; status: number; message?: string; type?: string; headers?: Record<string, string> }
  // `afterChunks` deltas, then the TCP connection is destroyed mid-stream.
  | { kind: 'drop'; chunks: string[]; afterChunks: number; chunkDelayMs?: number }
  // Never answered: no byte until the client leaves.
  | { kind: 'hang' }
  // `afterChunks` deltas, then silence with the connection left open.
  | { kind: 'stall'; chunks: string[]; afterChunks: number; chunkDelayMs?: number };

export const FAKE_OPENAI_REPLY = 'Hello from the fake OpenAI-compatible upstream.';

const replyChunks = chunkText(FAKE_OPENAI_REPLY);

export const FAKE_OPENAI_MARKERS = {
  default: { kind: 'text', chunks: replyChunks },
  slow: { kind: 'text', chunks: replyChunks, firstTokenDelayMs: 2_000 },
  long: { kind: 'text', chunks: FAKE_LONG_CHUNKS, chunkDelayMs: 20 },
  drop: { kind: 'drop', chunks: replyChunks, afterChunks: 2 },
  hang: { kind: 'hang' },
  stall: { kind: 'stall', chunks: replyChunks, afterChunks: 2 },
  '429': { kind: 'http-error', status: 429 },
  '503': { kind: 'http-error', status: 503 },
  error500: { kind: 'http-error', status: 500 },
} satisfies Record<string, FakeOpenAiScenario>;

export type FakeOpenAi = FakeUpstream<FakeOpenAiScenario>;

export async function startFakeOpenAi(): Promise<FakeOpenAi> {
  return startFakeUpstream<FakeOpenAiScenario>({
    defaultScenario: FAKE_OPENAI_MARKERS.default,
    markers: FAKE_OPENAI_MARKERS,
    handle: handleOpenAi,
  });
}

interface CompletionsBody {
  model: string;
  messages: { role: string; content: string }[];
  max_tokens?: number;
  max_completion_tokens?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

// The fake's embedding of a text: its words (lower case, three letters or more, a few common
// ones left out) hashed into EMBEDDING_DIMENSIONS buckets, so texts that share words are near
// each other and a question finds the passage that holds its words, as a real model would
// (more or less). Not normalised: the app must do that itself.
export const EMBEDDING_DIMENSIONS = 256;
const COMMON = new Set(['the', 'and', 'was', 'what', 'who', 'which', 'that', 'this', 'with', 'for', 'are', 'from', 'does', 'did', 'how', 'has', 'have', 'its', 'not', 'you', 'your', 'were', 'there', 'their', 'about', 'into', 'than', 'then', 'also']);

export function fakeEmbedding(text: string): number[] {
  const vector = new Array<number>(EMBEDDING_DIMENSIONS).fill(0);
  for (const word of text.toLowerCase().match(/\p{L}{3,}/gu) ?? []) {
    if (COMMON.has(word)) continue;
    let hash = 2166136261;
    for (let i = 0; i < word.length; i++) hash = Math.imul(hash ^ word.charCodeAt(i), 16777619);
    vector[(hash >>> 0) % EMBEDDING_DIMENSIONS] += 1;
  }
  // Never the zero vector: the app must cope with any vector a server sends.
  vector[0] += 0.01;
  return vector;
}

interface EmbeddingsBody {
  model?: unknown;
  input?: unknown;
  encoding_format?: unknown;
}

// POST /v1/embeddings as OpenAI answers it: {object: "list", data: [{object: "embedding",
// index, embedding}], model, usage}; base64 (little-endian float32) when asked for, as the
// openai SDK does by default. "[[fake:<marker>]]" in an input picks an http-error scenario.
function handleEmbeddings(ctx: FakeExchange<FakeOpenAiScenario>): void {
  const body = ctx.record.body as EmbeddingsBody | undefined;
  const input = typeof body?.input === 'string' ? [body.input] : body?.input;
  if (!body || typeof body.model !== 'string' || !Array.isArray(input) || input.length === 0 || input.some((t) => typeof t !== 'string')) {
    return openAiError(ctx, 400, 'model and input (a string or an array of strings) are required', 'invalid_request_error');
  }
  const texts = input as string[];
  const marker = /\[\[fake:([A-Za-z0-9_-]+)\]\]/.exec(texts.join('\n'))?.[1];
  const scenario = marker && Object.hasOwn(FAKE_OPENAI_MARKERS, marker) ? FAKE_OPENAI_MARKERS[marker as keyof typeof FAKE_OPENAI_MARKERS] : undefined;
  ctx.record.scenario = scenario;
  if (scenario?.kind === 'http-error') return openAiError(ctx, scenario.status, `fake upstream error ${scenario.status}`, scenario.status >= 500 ? 'server_error' : 'invalid_request_error');
  const base64 = body.encoding_format === 'base64';
  const tokens = texts.reduce((n, t) => n + Math.ceil(t.length / 4), 0);
  ctx.json(200, {
    object: 'list',
    data: texts.map((text, index) => {
      const vector = fakeEmbedding(text);
      return { object: 'embedding', index, embedding: base64 ? Buffer.from(new Float32Array(vector).buffer).toString('base64') : vector };
    }),
    model: body.model,
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  });
}

async function handleOpenAi(ctx: FakeExchange<FakeOpenAiScenario>): Promise<void> {
  const { req, record } = ctx;
  if (req.method === 'POST' && record.path === '/v1/embeddings') return handleEmbeddings(ctx);
  if (req.method !== 'POST' || record.path !== '/v1/chat/completions') return openAiError(ctx, 404, `${req.method} ${record.path} not found`, 'not_found');
  const body = record.body as Partial<CompletionsBody> | undefined;
  if (!body || typeof body.model !== 'string' || !Array.isArray(body.messages) || body.messages.length === 0) {
    return openAiError(ctx, 400, 'model and messages are required', 'invalid_request_error');
  }
  const messages = body.messages;
  const scenario = ctx.pickScenario(messages.findLast((m) => m.role === 'user')?.content ?? '');
  record.scenario = scenario;
  if (scenario.kind === 'http-error') {
    const headers = scenario.status === 429 ? { 'retry-after': '0', ...scenario.headers } : scenario.headers;
    const type = scenario.type ?? (scenario.status === 429 ? 'rate_limit_exceeded' : scenario.status >= 500 ? 'server_error' : 'invalid_request_error');
    return openAiError(ctx, scenario.status, scenario.message ?? `fake upstream error ${scenario.status}`, type, headers);
  }
  if (scenario.kind === 'hang') return;

  const id = `chatcmpl-fake${record.index + 1}`;
  const created = Math.floor(Date.now() / 1000);
  const promptTokens = (scenario.kind === 'text' ? scenario.promptTokens : undefined) ?? Math.max(1, Math.ceil(messages.reduce((n, m) => n + String(m.content).length, 0) / 4));
  const maxTokens = body.max_completion_tokens ?? body.max_tokens;
  const maxChars = maxTokens === undefined ? Infinity : maxTokens * 4;
  const reply: NonNullable<typeof record.reply> = { text: '', inputTokens: promptTokens, outputTokens: 0, stopReason: null };
  record.reply = reply;
  const usage = () => ({ prompt_tokens: promptTokens, completion_tokens: reply.outputTokens, total_tokens: promptTokens + reply.outputTokens });

  if (body.stream !== true) {
    reply.text = scenario.chunks.join('').slice(0, maxChars);
    reply.outputTokens = Math.ceil(reply.text.length / 4);
    reply.stopReason = 'stop';
    return ctx.json(200, {
      id, object: 'chat.completion', created, model: body.model,
      choices: [{ index: 0, message: { role: 'assistant', content: reply.text }, finish_reason: 'stop', logprobs: null }],
      usage: usage(),
    });
  }

  const includeUsage = body.stream_options?.include_usage === true;
  ctx.startStream({ 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const chunk = (delta: Record<string, unknown>, finishReason: string | null) =>
    ctx.write(`data: ${JSON.stringify({
      id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: 'fp_fake',
      choices: [{ index: 0, delta, logprobs: null, finish_reason: finishReason }],
      ...(includeUsage ? { usage: null } : {}),
    })}\n\n`);

  await chunk({ role: 'assistant', content: '' }, null);
  const limit = scenario.kind === 'text' ? scenario.chunks.length : scenario.afterChunks;
  let finishReason = scenario.kind === 'text' ? (scenario.finishReason ?? 'stop') : 'stop';
  if (scenario.kind === 'text' && scenario.firstTokenDelayMs) await ctx.sleep(scenario.firstTokenDelayMs);
  for (let i = 0; i < limit && ctx.alive(); i++) {
    if (i > 0) await ctx.sleep(scenario.chunkDelayMs ?? 15);
    let text = scenario.chunks[i % scenario.chunks.length];
    if (reply.text.length + text.length > maxChars) {
      text = text.slice(0, maxChars - reply.text.length);
      finishReason = 'length';
    }
    if (text) {
      await chunk({ content: text }, null);
      reply.text += text;
      reply.outputTokens = Math.ceil(reply.text.length / 4);
    }
    if (finishReason === 'length') break;
  }
  if (!ctx.alive()) return; // the client went away
  if (scenario.kind === 'drop') return ctx.drop();
  if (scenario.kind === 'stall') return;

  await chunk({}, finishReason);
  reply.stopReason = finishReason;
  if (includeUsage) {
    await ctx.write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model: body.model, system_fingerprint: 'fp_fake', choices: [], usage: usage() })}\n\n`);
  }
  await ctx.write('data: [DONE]\n\n');
  ctx.end();
}

function openAiError(ctx: FakeExchange<FakeOpenAiScenario>, status: number, message: string, type: string, headers: Record<string, string> = {}): void {
  ctx.json(status, { error: { message, type, param: null, code: type } }, headers);
}
