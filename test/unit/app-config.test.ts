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
});
