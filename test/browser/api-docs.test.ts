import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, screenshot, watchPageErrors } from '../support/browser.js';

// /docs in headless Chromium: Swagger UI renders /openapi.json under the app's own
// Content-Security-Policy (same-origin scripts and styles only, no inline script).
describe('/docs', () => {
  let t: TestApp;
  let browser: Browser;

  beforeAll(async () => {
    browser = await launchBrowser();
    t = await startTestApp();
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
  });

  it('renders every operation of /openapi.json, with no script or style refused', async () => {
    const doc = (await (await fetch(`${t.baseUrl}/openapi.json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    const operations = Object.values(doc.paths).reduce((n, ops) => n + Object.keys(ops).length, 0);
    const page = await browser.newPage();
    const errors = watchPageErrors(page);
    const refused: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy|Refused to/i.test(message.text())) refused.push(message.text());
    });
    try {
      await page.goto(`${t.baseUrl}/docs`);
      await page.locator('.opblock').first().waitFor({ timeout: 15_000 });
      expect(await page.locator('.opblock').count()).toBe(operations);
      await expect.poll(() => page.locator('.opblock-summary-path').filter({ hasText: '/api/v1/chat' }).count()).toBeGreaterThan(0);
      // Its styles applied (a stylesheet refused by the CSP would leave the blocks unstyled).
      const display = await page.evaluate(`getComputedStyle(document.querySelector('.opblock-summary')).display`);
      expect(display).toBe('flex');
      // A schema opens: Swagger UI has read the components.
      await page.locator('.opblock-summary-path', { hasText: '/api/v1/messages/send' }).first().click();
      await expect.poll(() => page.locator('.opblock-body').first().textContent(), { timeout: 5_000 }).toContain('text/event-stream');
    } catch (error) {
      await screenshot(page, 'FAILED-docs').catch(() => undefined);
      throw error;
    } finally {
      await page.close();
    }
    expect(refused).toEqual([]);
    expect(errors).toEqual([]);
  });
});
