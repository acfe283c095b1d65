import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/app-config.js';

describe('loadConfig', () => {
  it('starts on defaults with the echo model when no provider key is set', () => {
    const config = loadConfig({});
    expect(config.port).toBe(3000);
    expect(config.defaultModel).toBe('echo');
    expect(config.models.map((m) => m.id)).toEqual(['echo']);
    expect(config.anonMessageLimit).toBe(10);
    expect(config.maxContentChars).toBe(32_000);
  });

  it('offers Anthropic models, defaulting to one of them, when a key is set', () => {
    const config = loadConfig({ ANTHROPIC_API_KEY: 'sk-test' });
    expect(config.models.filter((m) => m.provider === 'anthropic').length).toBeGreaterThan(0);
    expect(config.defaultModel).not.toBe('echo');
  });

  it('names every bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig({ PORT: 'eighty', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud', JWT_SECRET: 'short' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as ConfigError).message;
    for (const name of ['PORT', 'DATABASE_URL', 'LOG_LEVEL', 'JWT_SECRET']) expect(message).toContain(name);
    // Secrets are named, never echoed.
    expect(message).not.toContain('short');
  });

  it('runs the SDK clients on their own thread unless PROVIDER_THREAD=false', () => {
    expect(loadConfig({}).providerThread).toBe(true);
    expect(loadConfig({ PROVIDER_THREAD: 'false' }).providerThread).toBe(false);
    expect(() => loadConfig({ PROVIDER_THREAD: 'yes' })).toThrow(/PROVIDER_THREAD/);
  });

  it('refuses a default model that is not configured', () => {
    expect(() => loadConfig({ DEFAULT_MODEL: 'gpt-9' })).toThrow(/DEFAULT_MODEL/);
  });

  it('parses MODELS per provider and refuses a provider without its key', () => {
    const config = loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1', MODELS: 'openai=llama3.2,qwen2.5' });
    expect(config.models.filter((m) => m.provider === 'openai').map((m) => m.id)).toEqual(['llama3.2', 'qwen2.5']);
    expect(() => loadConfig({ MODELS: 'anthropic=claude-sonnet-5' })).toThrow(/ANTHROPIC_API_KEY/);
  });

  it('reads durations and prices', () => {
    const config = loadConfig({ JWT_EXPIRES_IN: '2h', MODEL_PRICES: 'echo=0/0.5' });
    expect(config.jwtExpiresInSeconds).toBe(7200);
    expect(config.models[0]).toMatchObject({ inputPrice: 0, outputPrice: 0.5 });
    expect(() => loadConfig({ MODEL_PRICES: 'nope=1/1' })).toThrow(/MODEL_PRICES/);
  });

  it('reads the documents settings, and wants an OpenAI-compatible server for EMBEDDINGS_MODEL', () => {
    const defaults = loadConfig({});
    expect(defaults).toMatchObject({ maxDocumentBytes: 10 * 1024 * 1024, retrievalTopK: 5, documentWorkers: 1, embeddingsModel: undefined });
    // A server that serves only embeddings needs no chat models in MODELS.
    const embedding = loadConfig({ OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1', EMBEDDINGS_MODEL: 'nomic-embed-text', RETRIEVAL_TOP_K: '8' });
    expect(embedding).toMatchObject({ embeddingsModel: 'nomic-embed-text', retrievalTopK: 8 });
    expect(embedding.models.map((m) => m.id)).toEqual(['echo']);
    expect(() => loadConfig({ EMBEDDINGS_MODEL: 'nomic-embed-text' })).toThrow(/EMBEDDINGS_MODEL: .*OPENAI_BASE_URL/);
    expect(() => loadConfig({ MAX_DOCUMENT_BYTES: '10' })).toThrow(/MAX_DOCUMENT_BYTES/);
    expect(() => loadConfig({ RETRIEVAL_TOP_K: '0' })).toThrow(/RETRIEVAL_TOP_K/);
  });

  it('reads the upload and extraction limits: a budget that holds one upload, stricter quotas for visitors', () => {
    const defaults = loadConfig({});
    expect(defaults.maxUploadBytesInFlight).toBe(4 * (10 * 1024 * 1024 + 65_536));
    expect(defaults).toMatchObject({ uploadTimeoutMs: 120_000, uploadMinBytesPerSecond: 16_384 });
    expect(defaults.documentQuota.anonymous.documents).toBeLessThan(defaults.documentQuota.user.documents);
    expect(defaults.documentQuota.anonymous.bytes).toBeLessThan(defaults.documentQuota.user.bytes);
    expect(defaults.extraction).toEqual({ maxTextChars: 16_000_000, maxPages: 5000, maxPassages: 30_000, maxPdfDecodedBytes: 256 * 1024 * 1024 });
    const set = loadConfig({ MAX_DOCUMENT_BYTES: '65536', MAX_UPLOAD_BYTES_IN_FLIGHT: '131072', ANON_DOCUMENT_LIMIT: '0', USER_DOCUMENT_BYTES_LIMIT: '5', MAX_DOCUMENT_PAGES: '7' });
    expect(set).toMatchObject({ maxUploadBytesInFlight: 131_072, documentQuota: { anonymous: { documents: 0 }, user: { bytes: 5 } }, extraction: { maxPages: 7 } });
    expect(() => loadConfig({ MAX_DOCUMENT_BYTES: '65536', MAX_UPLOAD_BYTES_IN_FLIGHT: '131071' })).toThrow(/MAX_UPLOAD_BYTES_IN_FLIGHT: must hold one upload/);
    expect(() => loadConfig({ UPLOAD_TIMEOUT_MS: '10' })).toThrow(/UPLOAD_TIMEOUT_MS/);
    expect(() => loadConfig({ MAX_PDF_DECODED_BYTES: 'lots' })).toThrow(/MAX_PDF_DECODED_BYTES/);
  });

  it('derives the size limits and names a bad limit or timeout', () => {
    const config = loadConfig({});
    // Room for MAX_CONTENT_CHARS characters written as \uXXXX escapes.
    expect(config.maxBodyBytes).toBe(32_000 * 6 + 16_384);
    expect(config.maxSocketPayloadBytes).toBe(config.maxBodyBytes);
    expect(config).toMatchObject({ maxHeaderBytes: 16_384, providerFirstByteTimeoutMs: 60_000, providerIdleTimeoutMs: 60_000, socketConnectionsPerMinute: 60, redisCommandTimeoutMs: 2_000 });
    expect(loadConfig({ MAX_SOCKET_PAYLOAD_BYTES: '4096', MAX_BODY_BYTES: '8192' })).toMatchObject({ maxSocketPayloadBytes: 4096, maxBodyBytes: 8192 });
    let error: unknown;
    try {
      loadConfig({ MAX_BODY_BYTES: '10', MAX_HEADER_BYTES: 'big', PROVIDER_FIRST_BYTE_TIMEOUT_MS: '0', PROVIDER_IDLE_TIMEOUT_MS: '-5', SOCKET_CONNECTIONS_PER_MINUTE: '0', REDIS_COMMAND_TIMEOUT_MS: '1', MAX_SOCKET_PAYLOAD_BYTES: 'x' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    for (const name of ['MAX_BODY_BYTES', 'MAX_HEADER_BYTES', 'PROVIDER_FIRST_BYTE_TIMEOUT_MS', 'PROVIDER_IDLE_TIMEOUT_MS', 'SOCKET_CONNECTIONS_PER_MINUTE', 'REDIS_COMMAND_TIMEOUT_MS', 'MAX_SOCKET_PAYLOAD_BYTES']) {
      expect((error as ConfigError).message).toContain(name);
    }
  });
});
