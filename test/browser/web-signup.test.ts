import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, screenshot, watchPageErrors } from '../support/browser.js';
import { startFakeAnthropic, type FakeAnthropic, fakeAnthropicEnv } from '../support/fake-anthropic.js';
import { uniqueEmail } from '../support/http.js';

// The anonymous quota in the page: the invitation to sign up, and the history kept by signing up.
describe('the web client at the anonymous limit', () => {
  let t: TestApp;
  let fake: FakeAnthropic;
  let browser: Browser;
  let context: BrowserContext;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    browser = await launchBrowser();
    fake = await startFakeAnthropic();
    t = await startTestApp({
      env: {
        ...fakeAnthropicEnv(fake),
        ANON_MESSAGE_LIMIT: '2',
      },
    });
    context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    context.setDefaultTimeout(10_000);
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fake?.close();
  });
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') {
      for (const [i, page] of context.pages().entries()) await screenshot(page, `FAILED-${task.name.replace(/\W+/g, '-')}-${i}`).catch(() => undefined);
    }
  });

  async function sendAndWait(page: Page, text: string, answers: number): Promise<void> {
    await page.locator('#composer-input').fill(text);
    await page.locator('#send-button').click();
    await page.locator('.message[data-role="assistant"][data-status="complete"]').nth(answers - 1).waitFor();
  }

  const chatTitles = (page: Page) => page.locator('#chat-list .chat-open-title').allTextContents();

  it('invites the visitor to sign up at the limit and keeps the earlier chats after signing up', async () => {
    const page = await context.newPage();
    watchPageErrors(page, pageErrors);
    await page.goto(`${t.baseUrl}/`);
    await page.locator('#connection[data-state="connected"]').waitFor();
    await page.locator('#usage-text', { hasText: '2 of 2 free messages left' }).waitFor();

    // Two chats, one message each: the whole free quota.
    await sendAndWait(page, 'Plan a weekend in Lisbon', 1);
    await page.locator('#new-chat-button').click();
    expect(await page.locator('.message').count()).toBe(0);
    await sendAndWait(page, 'A recipe for pancakes', 1);
    await page.locator('#usage-text', { hasText: '0 of 2 free messages left' }).waitFor();
    expect((await chatTitles(page)).sort()).toEqual(['A recipe for pancakes', 'Plan a weekend in Lisbon']);

    // The third is refused: the page says why and invites to sign up; the text is not lost.
    await page.locator('#composer-input').fill('And a recipe for waffles?');
    await page.locator('#composer-input').press('Enter');
    const notice = page.locator('#notice[data-code="ANON_LIMIT_REACHED"]');
    await notice.waitFor();
    expect(await notice.getAttribute('role')).toBe('alert');
    expect(await notice.locator('.notice-text').textContent()).toMatch(/used all 2 free messages\. Sign up for free to keep chatting/);
    expect(await page.locator('#composer-input').inputValue()).toBe('And a recipe for waffles?');
    expect(await page.locator('.message[data-role="user"]').allTextContents()).toEqual([expect.stringContaining('A recipe for pancakes')]);
    expect(fake.requests).toHaveLength(2); // the refusal never reached the model
    await screenshot(page, 'anonymous-limit-invitation');

    // Sign up from the invitation, with the keyboard.
    await notice.getByRole('button', { name: 'Sign up' }).click();
    const dialog = page.locator('#auth-dialog');
    await dialog.waitFor();
    const email = uniqueEmail('web');
    await page.locator('#auth-email').fill(email);
    await page.locator('#auth-name').fill('Web Tester');
    await page.locator('#auth-password').fill('correct horse battery');
    await page.locator('#auth-password').press('Enter');
    await dialog.waitFor({ state: 'hidden' });

    await page.locator('#account-name', { hasText: 'Web Tester' }).waitFor();
    expect(await page.locator('#signup-button').isHidden()).toBe(true);
    expect(await page.locator('#logout-button').isVisible()).toBe(true);
    await page.locator('#usage-text', { hasText: 'credits' }).waitFor();
    await page.locator('#connection[data-state="connected"]').waitFor();
    // The visitor's chats are now the account's, listed by the new identity's socket.
    await page.locator('#chat-list .chat-item').nth(1).waitFor();
    expect((await chatTitles(page)).sort()).toEqual(['A recipe for pancakes', 'Plan a weekend in Lisbon']);
    expect(await page.locator('#notice').isHidden()).toBe(true);
    await screenshot(page, 'after-sign-up');

    // The refused message can go now, in the chat that stayed open.
    await page.locator('#send-button').click();
    await page.locator('.message[data-role="assistant"][data-status="complete"]').nth(1).waitFor();
    expect(await page.locator('.message[data-role="user"] .message-content').allTextContents()).toEqual(['A recipe for pancakes', 'And a recipe for waffles?']);

    // A reload keeps the account (token in localStorage) and its chats.
    await page.reload();
    await page.locator('#connection[data-state="connected"]').waitFor();
    await page.locator('#account-name', { hasText: 'Web Tester' }).waitFor();
    await page.locator('#chat-list .chat-item').nth(1).waitFor();
    expect((await chatTitles(page)).sort()).toEqual(['A recipe for pancakes', 'Plan a weekend in Lisbon']);
    await page.locator('#messages[data-loaded="true"] .message').nth(3).waitFor();
    expect(pageErrors).toEqual([]);
  });
});
