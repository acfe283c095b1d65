import { describe, expect, it } from 'vitest';
import { AppException } from '../../src/common/errors/app.exception.js';
import { guardInput, MAX_INPUT_DEPTH, wellFormed } from '../../src/common/input-guard.js';
import { DeltaText } from '../../src/llm/delta-text.js';

const codeOf = (work: () => unknown) => {
  try {
    work();
  } catch (error) {
    return error instanceof AppException ? error.code : String(error);
  }
  return 'ok';
};

describe('guardInput', () => {
  it('refuses NUL in values and keys, at any depth', () => {
    expect(codeOf(() => guardInput({ content: 'a\0b' }))).toBe('VALIDATION_ERROR');
    expect(codeOf(() => guardInput({ a: [{ b: ['x', 'y\0'] }] }))).toBe('VALIDATION_ERROR');
    expect(codeOf(() => guardInput({ ['k\0']: 1 }))).toBe('VALIDATION_ERROR');
    expect(codeOf(() => guardInput('\0'))).toBe('VALIDATION_ERROR');
  });

  it('replaces lone surrogates with U+FFFD in place and keeps pairs', () => {
    const body = { content: 'a\uD800b\uDC00c', nested: ['\uD83D\uDE00', '\uDBFF'] };
    guardInput(body);
    expect(body).toEqual({ content: 'a\uFFFDb\uFFFDc', nested: ['\uD83D\uDE00', '\uFFFD'] });
    expect(wellFormed('x\uD83D')).toBe('x\uFFFD');
  });

  it('refuses prototype keys and nesting past the bound, without recursion', () => {
    expect(codeOf(() => guardInput(JSON.parse('{"__proto__": {"admin": true}}')))).toBe('VALIDATION_ERROR');
    // class-transformer would call `new (3)()` for this one (found by the socket fuzzer).
    expect(codeOf(() => guardInput({ password: { constructor: 3 } }))).toBe('VALIDATION_ERROR');
    expect(codeOf(() => guardInput([{ prototype: {} }]))).toBe('VALIDATION_ERROR');
    let deep: unknown = 'leaf';
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(codeOf(() => guardInput(deep))).toBe('VALIDATION_ERROR');
    let ok: unknown = 'leaf';
    for (let i = 0; i < MAX_INPUT_DEPTH - 1; i++) ok = { a: ok };
    expect(codeOf(() => guardInput(ok))).toBe('ok');
  });

  it('refuses with PAYLOAD_TOO_LARGE past maxBytes, counting UTF-8 bytes', () => {
    expect(codeOf(() => guardInput({ content: 'x'.repeat(900) }, { maxBytes: 1000 }))).toBe('ok');
    expect(codeOf(() => guardInput({ content: 'é'.repeat(900) }, { maxBytes: 1000 }))).toBe('PAYLOAD_TOO_LARGE');
    expect(codeOf(() => guardInput({ list: Array.from({ length: 200 }, () => 1) }, { maxBytes: 1000 }))).toBe('PAYLOAD_TOO_LARGE');
  });
});

describe(DeltaText.name, () => {
  it('drops NUL, joins a pair split across deltas, replaces lone halves; the pieces join to stored text', () => {
    const sut = new DeltaText();
    const out = [sut.push('a\0b'), sut.push('smile \uD83D'), sut.push('\uDE00!'), sut.push('\uDC00'), sut.push('end\uD800'), sut.flush()];
    expect(out).toEqual(['ab', 'smile ', '\uD83D\uDE00!', '\uFFFD', 'end', '\uFFFD']);
    expect(wellFormed(out.join(''))).toBe(out.join(''));
  });
});
