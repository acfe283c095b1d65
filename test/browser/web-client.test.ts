import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { launchBrowser, recordTexts, screenshot, watchPageErrors } from '../support/browser.js';
import { chunkText, FAKE_ANTHROPIC_REPLY, fakeMarker, startFakeAnthropic, type FakeAnthropic, fakeAnthropicEnv } from '../support/fake-anthropic.js';

// The built-in page in headless Chromium, against the real app and the fake Anthropic upstream.
describe('the web client', () => {
  let t: TestApp;
  let fake: FakeAnthropic;
  let browser: Browser;
  let context: BrowserContext;
  let pageErrors: string[];

  beforeAll(async () => {
    browser = await launchBrowser();
    fake = await startFakeAnthropic();
    t = await startTestApp({
      env: {
        ...fakeAnthropicEnv(fake),
      },
    });
  });
  afterAll(async () => {
    await browser?.close();
    await t?.close();
    await fake?.close();
  });
  beforeEach(async () => {
    fake.reset();
    pageErrors = [];
    // A fresh context per test: its own localStorage, so its own anonymous visitor.
    context = await browser.newContext({ viewport: { width: 1200, height: 800 } });
    // Under the test's own timeout, so that a failure names the locator it waited for.
    context.setDefaultTimeout(10_000);
  });
  afterEach(async ({ task }) => {
    if (task.result?.state === 'fail') {
      for (const [i, page] of context.pages().entries()) await screenshot(page, `FAILED-${task.name.replace(/\W+/g, '-')}-${i}`).catch(() => undefined);
    }
    await context.close();
    expect(pageErrors).toEqual([]);
  });

  async function openPage(hash = ''): Promise<Page> {
    const page = await context.newPage();
    watchPageErrors(page, pageErrors);
    await page.goto(`${t.baseUrl}/${hash}`);
    await page.locator('#connection[data-state="connected"]').waitFor();
    return page;
  }

  async function sendMessage(page: Page, text: string): Promise<void> {
    await page.locator('#composer-input').fill(text);
    await page.locator('#composer-input').press('Enter');
  }

  const assistantAt = (page: Page, index: number) => page.locator('.message[data-role="assistant"]').nth(index);
  const statusOf = (page: Page, index: number) => assistantAt(page, index).getAttribute('data-status', { timeout: 1_000 }).catch(() => null);

  // Every value seen is a prefix of the next one and of the final answer.
  function expectGrowingPrefixes(texts: string[], answer: string): void {
    const shown = texts.filter((x) => x !== '');
    expect(shown.at(-1)).toBe(answer);
    for (const [i, text] of shown.entries()) {
      expect(answer.startsWith(text)).toBe(true);
      if (i > 0) expect(text.length).toBeGreaterThan(shown[i - 1].length);
    }
  }

  it('shows an anonymous visitor each of two answers arriving in several steps', async () => {
    const page = await openPage();
    expect(await page.locator('#account-name').textContent()).toBe('Anonymous');
    expect(await page.locator('#usage-text').textContent()).toBe('10 of 10 free messages left');
    expect(await page.locator('#model-select').inputValue()).toBe('claude-sonnet-5');

    const turns = [
      { question: 'What is <b>2+2</b>? <img src=x onerror="window.pwned=1">', answer: 'Two plus two is four, and that is <i>all</i> there is to say about it.' },
      { question: 'And what is 3+3?', answer: 'Three plus three makes six, which is twice three and half of twelve.' },
    ];
    for (const [i, turn] of turns.entries()) {
      fake.enqueue({ kind: 'text', chunks: chunkText(turn.answer), chunkDelayMs: 150 });
      await sendMessage(page, turn.question);
      await assistantAt(page, i).waitFor();
      const texts = await recordTexts(assistantAt(page, i).locator('.message-content'), async () => (await statusOf(page, i)) === 'complete');
      // Rendered as the deltas arrived: several growing states, not the whole answer at once.
      expect(texts.filter((x) => x !== '').length, JSON.stringify(texts)).toBeGreaterThanOrEqual(4);
      expectGrowingPrefixes(texts, turn.answer);
    }

    const shown = await page.locator('.message').evaluateAll((nodes) =>
      nodes.map((n) => [n.getAttribute('data-role'), n.getAttribute('data-status'), n.querySelector('.message-content')?.textContent]),
    );
    expect(shown).toEqual([
      ['user', 'complete', turns[0].question],
      ['assistant', 'complete', turns[0].answer],
      ['user', 'complete', turns[1].question],
      ['assistant', 'complete', turns[1].answer],
    ]);
    // User and model text is shown as text, never parsed as HTML.
    expect(await page.locator('#messages b, #messages i, #messages img').count()).toBe(0);
    expect(await page.evaluate('typeof window.pwned')).toBe('undefined');
    // One chat, named from the first message, and the quota counted twice.
    await page.locator('#usage-text', { hasText: '8 of 10 free messages left' }).waitFor();
    expect(await page.locator('#chat-list .chat-open-title').allTextContents()).toEqual([turns[0].question]);
    expect(await page.locator('#chat-list [aria-current="page"]').count()).toBe(1);
    // Both went through the model with the conversation so far.
    expect(fake.requests).toHaveLength(2);
    await screenshot(page, 'anonymous-two-answers');
  });

  it('renders an answer as Markdown while it streams, sanitised: no script, no javascript: link, no remote image', async () => {
    const page = await openPage();
    const answer = [
      '# A title',
      '',
      'Some **bold**, some *emphasis*, `inline code`, a [safe link](https://example.com/docs) and a [bad link](javascript:alert(1)).',
      '',
      '```js',
      'const ok = 1 < 2 && "<b>";',
      '```',
      '',
      '- one',
      '- two',
      '',
      '> quoted words',
      '',
      '| a | b |',
      '|---|--:|',
      '| 1 | 2 |',
      '',
      'Raw <img src=x onerror="window.pwned=1"> and <script>window.pwned=2</script> and ![tracker](https://example.com/t.png) end.',
    ].join('\n');
    fake.enqueue({ kind: 'text', chunks: chunkText(answer), chunkDelayMs: 20 });
    await sendMessage(page, 'Show me **Markdown** <i>please</i>');
    const content = assistantAt(page, 0).locator('.message-content');
    await assistantAt(page, 0).waitFor();
    const texts = await recordTexts(content, async () => (await statusOf(page, 0)) === 'complete');
    // Rendered as it grew, not once at the end.
    expect(texts.filter((x) => x !== '').length, JSON.stringify(texts)).toBeGreaterThanOrEqual(4);

    expect(await content.locator('h1').textContent()).toBe('A title');
    expect(await content.locator('strong').textContent()).toBe('bold');
    expect(await content.locator('em').textContent()).toBe('emphasis');
    expect(await content.locator('p code').first().textContent()).toBe('inline code');
    expect(await content.locator('pre > code.language-js').textContent()).toBe('const ok = 1 < 2 && "<b>";\n');
    expect(await content.locator('ul > li').allTextContents()).toEqual(['one', 'two']);
    expect(await content.locator('blockquote').textContent()).toContain('quoted words');
    expect(await content.locator('table td').allTextContents()).toEqual(['1', '2']);
    const safe = content.locator('a', { hasText: 'safe link' });
    expect(await safe.getAttribute('href')).toBe('https://example.com/docs');
    expect(await safe.getAttribute('rel')).toBe('noopener noreferrer nofollow');
    expect(await safe.getAttribute('target')).toBe('_blank');
    // The javascript: link is its text only; the image a link to it, never loaded.
    expect(await content.textContent()).toContain('a bad link.');
    expect(await page.locator('#messages a[href^="javascript:" i], #messages [href*="alert" i]').count()).toBe(0);
    expect(await content.locator('a', { hasText: 'tracker' }).getAttribute('href')).toBe('https://example.com/t.png');
    // Raw HTML in the answer is shown as text; nothing of it runs.
    expect(await content.locator('p').last().textContent()).toBe('Raw <img src=x onerror="window.pwned=1"> and <script>window.pwned=2</script> and tracker end.');
    expect(await page.locator('#messages img, #messages script, #messages [onerror], #messages [style], #messages i').count()).toBe(0);
    expect(await page.evaluate('typeof window.pwned')).toBe('undefined');
    // The question is the user's text as typed, not Markdown.
    expect(await page.locator('.message[data-role="user"] .message-content').textContent()).toBe('Show me **Markdown** <i>please</i>');
    await screenshot(page, 'markdown-answer');

    // The stored answer, from the history after a reload, renders the same.
    const rendered = await content.innerHTML();
    await page.reload();
    await page.locator('#messages[data-loaded="true"]').waitFor();
    expect(await assistantAt(page, 0).locator('.message-content').innerHTML()).toBe(rendered);
  });

  it('shows a second tab on the same chat the answer streaming live', async () => {
    const first = await openPage();
    await sendMessage(first, 'Hello from the first tab');
    await first.locator('.message[data-role="assistant"][data-status="complete"]').waitFor();
    const chatId = /#chat=([0-9a-f-]{36})$/.exec(first.url())?.[1];
    expect(chatId).toBeDefined();

    // The second tab (same browser, so the same visitor) opens that chat from its list.
    const second = await openPage();
    const resumes: string[] = [];
    second.on('request', (request) => {
      if (request.url().includes('/stream')) resumes.push(request.url());
    });
    await second.locator('.chat-open', { hasText: 'Hello from the first tab' }).click();
    await second.locator(`#messages[data-chat-id="${chatId}"][data-joined="true"][data-loaded="true"]`).waitFor();
    expect(await second.locator('.message').count()).toBe(2);
    expect(await assistantAt(second, 0).locator('.message-content').textContent()).toBe(FAKE_ANTHROPIC_REPLY);

    const answer = 'The second tab sees this answer grow word by word while the first tab writes it.';
    fake.enqueue({ kind: 'text', chunks: chunkText(answer), chunkDelayMs: 150 });
    await sendMessage(first, 'Tell the other tab something');

    await assistantAt(second, 1).waitFor();
    const texts = await recordTexts(assistantAt(second, 1).locator('.message-content'), async () => (await statusOf(second, 1)) === 'complete');
    expect(texts.filter((x) => x !== '').length, JSON.stringify(texts)).toBeGreaterThanOrEqual(4);
    expectGrowingPrefixes(texts, answer);
    // It came over the socket (join_chat), not by replaying the stream over HTTP.
    expect(resumes).toEqual([]);
    // The other tab's question is shown too, in its place.
    const roles = await second.locator('.message').evaluateAll((nodes) => nodes.map((n) => [n.getAttribute('data-role'), n.querySelector('.message-content')?.textContent]));
    expect(roles).toEqual([
      ['user', 'Hello from the first tab'],
      ['assistant', FAKE_ANTHROPIC_REPLY],
      ['user', 'Tell the other tab something'],
      ['assistant', answer],
    ]);
    // And the first tab, which sent it, shows the same answer once.
    await first.locator('.message[data-role="assistant"][data-status="complete"]').nth(1).waitFor();
    expect(await first.locator('.message[data-role="assistant"] .message-content').allTextContents()).toEqual([FAKE_ANTHROPIC_REPLY, answer]);
    await screenshot(first, 'second-tab-sender');
    await screenshot(second, 'second-tab-watcher');
  });

  it('stops an answer with the stop button and still shows it stopped after a reload', async () => {
    const page = await openPage();
    await sendMessage(page, `Count slowly for me ${fakeMarker('long')}`);
    const answer = assistantAt(page, 0);
    await answer.locator('.message-content', { hasText: 'Chunk 5.' }).waitFor();
    expect(await page.locator('#send-button').isDisabled()).toBe(true);
    await page.locator('#stop-button').click();

    await page.locator('.message[data-role="assistant"][data-status="stopped"]').waitFor();
    const stoppedText = (await answer.locator('.message-content').textContent()) ?? '';
    expect(stoppedText).toMatch(/^Chunk 1\. Chunk 2\. Chunk 3\. Chunk 4\. Chunk 5\./);
    expect(stoppedText).not.toContain('Chunk 200.');
    expect(await answer.locator('.message-status').textContent()).toBe('Stopped');
    expect(await page.locator('#stop-button').isHidden()).toBe(true);
    expect(await page.locator('#send-button').isEnabled()).toBe(true);
    // The upstream request was cut short, not left running.
    const upstream = await fake.waitForClose(0);
    expect(upstream.closedByClient).toBe(true);

    await page.reload();
    await page.locator('#connection[data-state="connected"]').waitFor();
    const reloaded = page.locator('.message[data-role="assistant"]');
    await page.locator('#messages[data-loaded="true"]').waitFor();
    expect(await reloaded.count()).toBe(1);
    expect(await reloaded.getAttribute('data-status')).toBe('stopped');
    expect(await reloaded.locator('.message-status').textContent()).toBe('Stopped');
    // What the page showed when it stopped is what was stored.
    expect(await reloaded.locator('.message-content').textContent()).toBe(stoppedText);
    await screenshot(page, 'stopped-after-reload');
  });
  it('explains a provider failure, retries it, renames and deletes the chat, and shows reconnecting', async () => {
    const page = await openPage();
    await sendMessage(page, `Hello ${fakeMarker('overloaded')}`);
    const notice = page.locator('#notice[data-code="PROVIDER_OVERLOADED"]');
    await notice.waitFor();
    expect(await notice.locator('.notice-text').textContent()).toBe('The model is overloaded right now. Try again in a moment.');
    const failed = page.locator('.message[data-role="assistant"][data-status="error"]');
    expect(await failed.locator('.message-status').textContent()).toBe('Failed: the model is overloaded');

    // "Try again" regenerates: the failed answer stays in the history, marked as replaced.
    fake.enqueue({ kind: 'text', chunks: chunkText('Better now, thank you.'), chunkDelayMs: 20 });
    await notice.getByRole('button', { name: 'Try again' }).click();
    await page.locator('.message[data-role="assistant"][data-status="complete"]', { hasText: 'Better now, thank you.' }).waitFor();
    expect(await page.locator('.message[data-role="assistant"]').evaluateAll((nodes) => nodes.map((n) => n.getAttribute('data-status')))).toEqual(['superseded', 'complete']);
    expect(await page.locator('#notice').isHidden()).toBe(true);

    // Rename with the keyboard.
    await page.locator('.chat-item [data-action="rename"]').focus();
    await page.keyboard.press('Enter');
    await page.keyboard.type('Renamed <chat>');
    await page.keyboard.press('Enter');
    await page.locator('.chat-open-title', { hasText: 'Renamed <chat>' }).waitFor();
    expect(await page.locator('#chat-title').textContent()).toBe('Renamed <chat>');

    // The connection drops and comes back; the indicator says so.
    await context.setOffline(true);
    await page.locator('#connection[data-state="reconnecting"]').waitFor();
    expect(await page.locator('#connection-text').textContent()).toBe('Reconnecting…');
    await screenshot(page, 'reconnecting');
    await context.setOffline(false);
    await page.locator('#connection[data-state="connected"]').waitFor();

    // Delete, once confirmed, over the reconnected socket.
    page.once('dialog', (dialog) => void dialog.accept());
    await page.locator('.chat-item [data-action="delete"]').click();
    await page.locator('#chat-list-empty').waitFor();
    expect(await page.locator('.message').count()).toBe(0);
    expect(await page.locator('#chat-title').textContent()).toBe('New chat');
    expect(await page.locator('#notice').isHidden()).toBe(true);
  });
});
