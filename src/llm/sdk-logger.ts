import type { AppLogger } from '../common/logging/logger.js';

type LogFn = (message: string, ...rest: unknown[]) => void;

// Both SDKs log through a console-like object; send their lines to our JSON log instead of stdout.
// Only warn and error reach it (the clients are built with logLevel 'warn'), so no request
// details or headers are ever logged.
export function sdkLogger(logger: AppLogger): { error: LogFn; warn: LogFn; info: LogFn; debug: LogFn } {
  const line = (level: 'error' | 'warn' | 'info' | 'debug'): LogFn => (message, ...rest) => {
    const detail = rest.map((r) => (r instanceof Error ? r.message : r)).filter((r) => typeof r === 'string');
    logger[level](detail.length > 0 ? { detail } : {}, message);
  };
  return { error: line('error'), warn: line('warn'), info: line('info'), debug: line('debug') };
}
