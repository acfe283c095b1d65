import { createReadStream, createWriteStream, existsSync, readFileSync } from 'node:fs';
import { chmod, mkdir, rename, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createBrotliDecompress } from 'node:zlib';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

// Headless Chromium comes with the project: `@sparticuz/chromium` (a dev dependency) ships a
// Chromium headless shell build for Linux x64 in the npm package, brotli-compressed; it needs only
// glibc, NSS and a font, which a Debian machine of ours has without Debian's `chromium` package.
// It is unpacked once under node_modules/.cache (about 2.5 s). CHROMIUM_PATH points the tests at
// another Chromium instead (Debian's: /usr/bin/chromium). A browser that cannot start fails the
// tests with the fix, never skips them.
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-quic',
  '--no-first-run',
  '--disable-component-update',
  '--disable-sync',
];

export const SCREENSHOT_DIR = path.resolve('test-results/screenshots');

let unpacked: Promise<string> | undefined;

// The packaged Chromium, unpacked to a file named after the package's version. Written to a
// temporary name and renamed, so a run interrupted halfway, or two test files unpacking at once,
// never leave a truncated browser behind.
export function chromiumPath(): Promise<string> {
  if (process.env.CHROMIUM_PATH) return Promise.resolve(process.env.CHROMIUM_PATH);
  unpacked ??= (async () => {
    const pkgDir = path.resolve(path.dirname(createRequire(import.meta.url).resolve('@sparticuz/chromium')), '..');
    const { version } = JSON.parse(readFileSync(path.join(pkgDir, 'package.json'), 'utf8')) as { version: string };
    const target = path.resolve(pkgDir, '../../.cache/sparticuz-chromium', version, 'chromium');
    if (existsSync(target)) return target;
    await mkdir(path.dirname(target), { recursive: true });
    const partial = `${target}.${process.pid}.partial`;
    try {
      await pipeline(createReadStream(path.join(pkgDir, 'bin/chromium.br')), createBrotliDecompress(), createWriteStream(partial));
      await chmod(partial, 0o755);
      await rename(partial, target);
    } finally {
      await rm(partial, { force: true });
    }
    return target;
  })();
  return unpacked;
}

export async function launchBrowser(): Promise<Browser> {
  const executablePath = await chromiumPath();
  if (!existsSync(executablePath)) {
    throw new Error(`The browser tests need Chromium at CHROMIUM_PATH=${executablePath}, and it is missing. Unset CHROMIUM_PATH to use the packaged one.`);
  }
  try {
    return await chromium.launch({ executablePath, args: CHROMIUM_ARGS });
  } catch (error) {
    const fix = process.env.CHROMIUM_PATH
      ? 'Check CHROMIUM_PATH, or unset it to use the packaged Chromium.'
      : 'The packaged build needs libnss3 and a font (`apt-get install -y libnss3 fonts-dejavu-core`); ' +
        'or set CHROMIUM_PATH to another Chromium (`apt-get install -y chromium` gives /usr/bin/chromium).';
    throw new Error(
      `Chromium (${executablePath}) did not start. ${fix}\n${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    );
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// Collects the page's uncaught errors and console errors, to assert none happened. Chromium's
// own "Failed to load resource" lines (an expected 429 refusal, say) are not the page's errors.
export function watchPageErrors(page: Page, into: string[] = []): string[] {
  page.on('pageerror', (error) => into.push(`pageerror: ${error.message}`));
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) into.push(`console: ${message.text()}`);
  });
  return into;
}

// Polls a locator's text until `done()` says the answer is over, and returns every distinct
// value seen, in order: an answer rendered step by step shows several intermediate values.
export async function recordTexts(target: Locator, done: () => Promise<boolean>, { intervalMs = 25, timeoutMs = 20_000 } = {}): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const finished = await done();
    const text = (await target.textContent({ timeout: 1_000 }).catch(() => null)) ?? '';
    if (text !== seen.at(-1)) seen.push(text);
    if (finished) return seen;
    if (Date.now() > deadline) throw new Error(`recordTexts: not finished after ${timeoutMs} ms; seen ${JSON.stringify(seen)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
