import { ValidationPipe, type ArgumentMetadata, type ValidationError } from '@nestjs/common';
import { plainToInstance, type ClassConstructor } from 'class-transformer';
import { validateSync } from 'class-validator';
import { validationError } from './errors/app.exception.js';
import { guardInput } from './input-guard.js';

const OPTIONS = { whitelist: true, forbidNonWhitelisted: true, forbidUnknownValues: true } as const;

// One set of rules for every edge: HTTP bodies and queries through the pipe, socket payloads
// through validateDto.
export function createValidationPipe(): ValidationPipe {
  return new GuardedValidationPipe({
    ...OPTIONS,
    transform: true,
    exceptionFactory: (errors) => validationError(summarize(errors)),
  });
}

// What the client sent passes guardInput (NUL, nesting, prototype keys, lone surrogates) before
// class-transformer walks it.
class GuardedValidationPipe extends ValidationPipe {
  override transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query' || metadata.type === 'param') value = guardInput(value);
    return super.transform(value, metadata);
  }
}

// guarded: the caller has already passed the payload through guardInput (with its size limit).
export function validateDto<T extends object>(cls: ClassConstructor<T>, payload: unknown, options: { guarded?: boolean } = {}): T {
  if (payload === undefined || payload === null) payload = {};
  if (typeof payload !== 'object' || Array.isArray(payload)) throw validationError('payload must be an object');
  if (!options.guarded) guardInput(payload);
  const instance = plainToInstance(cls, payload);
  const errors = validateSync(instance, OPTIONS);
  if (errors.length > 0) throw validationError(summarize(errors));
  return instance;
}

function summarize(errors: ValidationError[], prefix = ''): string {
  return errors
    .flatMap((e) => {
      const name = prefix + e.property;
      const own = Object.values(e.constraints ?? {}).map((m) => m.replace(e.property, name));
      const nested = e.children?.length ? [summarize(e.children, `${name}.`)] : [];
      return [...own, ...nested];
    })
    .join('; ');
}
