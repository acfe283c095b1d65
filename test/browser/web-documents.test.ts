import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, screenshot, watchPageErrors } from '../support/browser.js';
import { HANDBOOK_FACT, handbookMarkdown, MANUAL_FACT, MANUAL_PAGES } from '../support/documents.js';
import { fakeAnthropicEnv, startFakeAnthropic, type FakeAnthropic } from '../support/fake-anthropic.js';
import { makePdf } from '../support/pdf.js';

// Run in the page (as a string: this program has no DOM types).
const RECORD_TEXTS = `(() => {
  window.seen = [];
  const record = () => {
    const label = document.querySelector('#upload-status:not([hidden]) #upload-label')?.textContent;
    if (label && window.seen.at(-1) !== label) window.seen.push(label);
    for (const item of document.querySelectorAll('.document-item')) {
      const text = 'list: ' + item.querySelector('.document-name')?.textContent + ' ' + item.querySelector('.document-status')?.textContent;
      if (!window.seen.includes(text)) window.seen.push(text);
    }
  };
  new MutationObserver(record).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
})()`;

// The page's projects and documents in headless Chromium: a project made in the page, uploads
// with their progress bar, the document list, and sources under an answer.
describe('the web client with documents', () => {
  let t: TestApp;
  let fake: FakeAnthropic;
  let browser: Browser;
  let context: BrowserContext;
  let pageErrors: string[];

  beforeAll(async () => {
    browser = await launchBrowser();
    fake = await startFakeAnthropic();
    t = await startTestApp({ env: { ...fakeAnthropicEnv(fake), MAX_DOCUMENT_BYTES: String(4 * 1024 * 1024) } });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fake?.close();
  });
  beforeEach(async () => {
    pageErrors = [];
    context = await browser.newContext({ viewport: { width: 1200, height: 900 } });
    context.setDefaultTimeout(15_000);
  });
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') {
      for (const [i, page] of context.pages().entries()) await screenshot(page, `FAILED-${task.name.replace(/\W+/g, '-')}-${i}`).catch(() => undefined);
    }
    await context.close();
    expect(pageErrors).toEqual([]);
  });

  async function openPage(): Promise<Page> {
    const page = await context.newPage();
    watchPageErrors(page, pageErrors);
    await page.goto(`${t.baseUrl}/`);
    await page.locator('#connection[data-state="connected"]').waitFor();
    // Every text the upload status and the document list show, as they change.
    await page.evaluate(RECORD_TEXTS);
    return page;
  }

  // A Markdown file large enough that its processing shows (about 2 MB, the fact near the end).
  const bigHandbook = () => {
    const filler = handbookMarkdown().replace(HANDBOOK_FACT, '');
    const copies = Array.from({ length: 30 }, (_, i) => filler.replaceAll('Routine', `Procedure ${i}.`));
    return [copies.join('\n\n'), '## People on the coast', '', HANDBOOK_FACT].join('\n');
  };

  it('makes a project, uploads a Markdown file and a PDF into it with their progress, and shows an answer’s sources', async () => {
    const page = await openPage();
    await page.locator('#new-project-button').click();
    await page.locator('#project-name').fill('Coast station');
    await page.locator('#project-name').press('Enter');
    await expect.poll(() => page.locator('#project-select option:checked').textContent()).toBe('Coast station');
    expect(await page.locator('#document-list-empty').isVisible()).toBe(true);

    await page.locator('#upload-input').setInputFiles([
      { name: 'handbook.md', mimeType: 'text/markdown', buffer: Buffer.from(bigHandbook()) },
      { name: 'manual.pdf', mimeType: 'application/pdf', buffer: makePdf(MANUAL_PAGES) },
    ]);
    const item = (name: string) => page.locator('.document-item', { has: page.locator('.document-name', { hasText: name }) });
    await item('handbook.md').and(page.locator('[data-status="ready"]')).waitFor({ timeout: 30_000 });
    await item('manual.pdf').and(page.locator('[data-status="ready"]')).waitFor({ timeout: 30_000 });
    await page.locator('#upload-status').waitFor({ state: 'hidden' });
    expect(await item('manual.pdf').locator('.document-status').textContent()).toMatch(/^Ready · \d+ passages?$/);

    const seen = (await page.evaluate('window.seen')) as string[];
    // The bar went through the bytes sent, then the server's processing.
    expect(seen.some((s) => /^Uploading handbook\.md… \d+%$/.test(s))).toBe(true);
    expect(seen.some((s) => /^Processing handbook\.md… \d+%$/.test(s) || /^list: handbook\.md Processing \d+%$/.test(s))).toBe(true);

    // A new chat in the project: the answer shows its sources under it.
    await page.locator('#composer-input').fill('Who is the lighthouse keeper on Skerry Island?');
    await page.locator('#composer-input').press('Enter');
    const answer = page.locator('.message[data-role="assistant"]').first();
    await answer.and(page.locator('[data-status="complete"]')).waitFor();
    const sources = answer.locator('.message-sources');
    await sources.waitFor();
    expect(await sources.locator('.sources-title').textContent()).toMatch(/^(Source|Sources \(\d+\))$/);
    const first = sources.locator('.source').first();
    expect(await first.locator('summary').textContent()).toBe('[1] handbook.md · People on the coast');
    await first.locator('summary').click();
    expect(await first.locator('.source-excerpt').textContent()).toContain(HANDBOOK_FACT);
    expect((fake.requests.at(-1)!.body as { system: string }).system).toContain(HANDBOOK_FACT);

    await page.locator('#composer-input').fill('How much glycol does the coolant pump take?');
    await page.locator('#composer-input').press('Enter');
    const second = page.locator('.message[data-role="assistant"]').nth(1);
    await second.and(page.locator('[data-status="complete"]')).waitFor();
    expect(await second.locator('.source summary').first().textContent()).toBe('[1] manual.pdf · page 2');
    await second.locator('.source summary').first().click();
    expect(await second.locator('.source-excerpt').first().textContent()).toContain(MANUAL_FACT);

    // After a reload, the stored answers show the same sources, and the picker the chat's project.
    await page.reload();
    await page.locator('#connection[data-state="connected"]').waitFor();
    await page.locator('.message[data-role="assistant"]').nth(1).locator('.source').first().waitFor();
    expect(await page.locator('.message[data-role="assistant"]').first().locator('.source summary').first().textContent()).toBe('[1] handbook.md · People on the coast');
    expect(await page.locator('#project-select option:checked').textContent()).toBe('Coast station');
    await screenshot(page, 'documents-sources');
  });

  it('keeps a document ready when a list that left the server earlier arrives after its pushes', async () => {
    const page = await openPage();
    // The upload's answer is held until the pushes have come (so the page asks for the list), and
    // that list answers late with the document as it was mid-processing.
    let staleListDelivered!: () => void;
    const delivered = new Promise<void>((resolve) => (staleListDelivered = resolve));
    let stale = true;
    await page.route((url) => url.pathname === '/api/v1/documents', async (route) => {
      const response = await route.fetch();
      if (route.request().method() === 'POST') {
        await new Promise((resolve) => setTimeout(resolve, 500));
        return route.fulfill({ response });
      }
      const body = (await response.json()) as { documents: Array<Record<string, unknown>> };
      if (!stale || body.documents.length === 0) return route.fulfill({ response });
      stale = false;
      await new Promise((resolve) => setTimeout(resolve, 1000));
      await route.fulfill({ response, json: { documents: body.documents.map((d) => ({ ...d, status: 'processing', progress: 35 })) } });
      staleListDelivered();
    });
    await page.locator('#upload-input').setInputFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('The spare key is under the blue flowerpot.') }]);
    await delivered;
    // Time for the page to read and render that list; before the fix it showed "Processing 35%".
    await page.waitForTimeout(300);
    await page.locator('.document-item[data-status="ready"]').waitFor({ timeout: 5000 });
    expect(await page.locator('.document-item').count()).toBe(1);
    expect(await page.locator('#upload-status').isHidden()).toBe(true);
  });

  it('says why a file is refused, and deletes a document', async () => {
    const page = await openPage();
    await page.locator('#upload-input').setInputFiles([{ name: 'photo.md', mimeType: 'text/markdown', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 0]) }]);
    await page.locator('#notice', { hasText: 'That file cannot be used' }).waitFor();
    await page.locator('#upload-input').setInputFiles([{ name: 'huge.txt', mimeType: 'text/plain', buffer: Buffer.alloc(4 * 1024 * 1024 + 1, 'a') }]);
    await page.locator('#notice', { hasText: 'That file is too large (at most 4 MB)' }).waitFor();
    expect(await page.locator('.document-item').count()).toBe(0);

    // Without a project: a document outside any project, searched by chats outside projects.
    await page.locator('#upload-input').setInputFiles([{ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('The spare key is under the blue flowerpot.') }]);
    await page.locator('.document-item[data-status="ready"]').waitFor();
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('.document-item .document-delete').click();
    await page.locator('#document-list-empty').waitFor();
    await page.locator('#composer-input').fill('Where is the spare key?');
    await page.locator('#composer-input').press('Enter');
    const answer = page.locator('.message[data-role="assistant"]').first();
    await answer.and(page.locator('[data-status="complete"]')).waitFor();
    expect(await answer.locator('.message-sources').isHidden()).toBe(true);
  });
});
