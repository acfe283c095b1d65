import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { chromium, type Browser, type Locator, type Page } from 'playwright-core';

// Headless Chromium from Debian's `chromium` package (playwright's own download does not work
// here). A missing browser fails the tests with the fix, never skips them.
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

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

export async function launchBrowser(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `The browser tests need Chromium at ${CHROMIUM_PATH}, and it is missing. ` +
        'Install it with `apt-get install -y chromium` (or point CHROMIUM_PATH at a Chromium binary).',
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS });
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
