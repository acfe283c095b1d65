// Lets a worker thread run the TypeScript sources (the tests run them; a build runs dist/):
// Node's own type transform, with the sources' `./x.js` imports found as `./x.ts`.
//   new Worker(url, { execArgv: ['--experimental-transform-types', '--import', <this file>] })
import { existsSync } from 'node:fs';
import { register } from 'node:module';
import { fileURLToPath } from 'node:url';

if (!process.env.WORKER_TS_HOOKS_LOADED) {
  process.env.WORKER_TS_HOOKS_LOADED = '1';
  register(import.meta.url);
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier.endsWith('.js') && (specifier.startsWith('./') || specifier.startsWith('../')) && context.parentURL?.endsWith('.ts')) {
    const url = new URL(`${specifier.slice(0, -3)}.ts`, context.parentURL);
    if (existsSync(fileURLToPath(url))) return nextResolve(url.href, context);
  }
  return nextResolve(specifier, context);
}
