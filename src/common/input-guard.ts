import { AppException, validationError } from './errors/app.exception.js';
import { ErrorCode } from './errors/error-code.js';

// How deep a body or socket payload may nest. The class-transformer and socket.io walks that
// follow are recursive: a payload of a few thousand brackets would overflow their stack.
export const MAX_INPUT_DEPTH = 32;

const NUL = '\0';
const PROTOTYPE_KEYS = new Set(['__proto__', 'constructor', 'prototype']);
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const HAS_LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// A lone surrogate (half of a UTF-16 pair, e.g. from a string cut at the wrong index) becomes
// U+FFFD, as every UTF-8 encoder (PostgreSQL's driver included) turns it, so that what is
// stored, echoed and streamed is one and the same text.
export function wellFormed(text: string): string {
  return HAS_LONE_SURROGATE.test(text) ? text.replace(LONE_SURROGATE, '\uFFFD') : text;
}

export interface InputLimits {
  // Estimated JSON size in bytes past which the input is refused with PAYLOAD_TOO_LARGE.
  maxBytes?: number;
}

// Every body, query, route parameter and socket payload passes here before its DTO sees it:
// NUL characters (PostgreSQL text cannot hold them) and prototype keys ("__proto__",
// "constructor", "prototype") are refused with
// VALIDATION_ERROR, nesting deeper than MAX_INPUT_DEPTH too, lone surrogates are replaced (see
// wellFormed), and with maxBytes an oversized payload is refused with PAYLOAD_TOO_LARGE. The walk
// is iterative, so no input can exhaust the stack here. Strings are fixed in place.
export function guardInput<T>(input: T, limits: InputLimits = {}): T {
  const maxBytes = limits.maxBytes ?? Infinity;
  let bytes = 0;
  const count = (n: number) => {
    bytes += n;
    if (bytes > maxBytes) throw new AppException(ErrorCode.PAYLOAD_TOO_LARGE, `Payload is larger than ${maxBytes} bytes`, { max_bytes: maxBytes });
  };
  const checkString = (text: string, where: string): string => {
    count(Buffer.byteLength(text) + 2);
    if (text.includes(NUL)) throw validationError(`${where} must not contain NUL characters`);
    return wellFormed(text);
  };
  if (typeof input === 'string') return checkString(input, 'value') as T;

  const stack: { value: unknown; depth: number; path: string }[] = [{ value: input, depth: 0, path: 'payload' }];
  while (stack.length > 0) {
    const { value, depth, path } = stack.pop()!;
    if (value === null || typeof value !== 'object') {
      count(8);
      continue;
    }
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      count(value.byteLength);
      continue;
    }
    if (depth >= MAX_INPUT_DEPTH) throw validationError(`payload nests deeper than ${MAX_INPUT_DEPTH} levels`);
    const container = value as Record<string, unknown>;
    for (const key of Object.keys(container)) {
      const child = container[key];
      const childPath = Array.isArray(container) ? `${path}[${key}]` : `${path}.${key}`;
      if (!Array.isArray(container)) {
        // class-transformer builds nested objects with `new value.constructor()`: these keys
        // would make it call (or pollute) something that is not ours.
        if (PROTOTYPE_KEYS.has(key)) throw validationError(`${path} must not have a "${key}" key`);
        if (checkString(key, `the keys of ${path}`) !== key) throw validationError(`the keys of ${path} must be well-formed Unicode`);
      }
      count(2);
      if (typeof child === 'string') {
        const fixed = checkString(child, childPath);
        if (fixed !== child) container[key] = fixed;
      } else if (child !== null && typeof child === 'object') {
        stack.push({ value: child, depth: depth + 1, path: childPath });
      } else {
        count(8);
      }
    }
  }
  return input;
}
