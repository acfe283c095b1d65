// Answers as Markdown: marked turns the text into HTML, DOMPurify keeps only the elements that
// Markdown produces, and the result enters the page as a sanitised DOM fragment. Raw HTML in an
// answer is shown as the text it is; links go only to http(s), mailto and same-site addresses;
// images are not loaded (a link to them instead), so an answer cannot make the page fetch anything.
import { Marked } from '/vendor/marked.esm.js';
import DOMPurify from '/vendor/purify.es.mjs';

const SAFE_URL = /^(?:https?:\/\/|mailto:|#|\/(?!\/))/i;

const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);

function link(href, title, inner) {
  if (!href || !SAFE_URL.test(href)) return inner;
  return `<a href="${escapeHtml(href)}"${title ? ` title="${escapeHtml(title)}"` : ''}>${inner}</a>`;
}

const marked = new Marked({
  gfm: true,
  breaks: true, // a model's single line breaks are meant as such
  async: false,
  renderer: {
    html({ text, block }) {
      return block ? `<p>${escapeHtml(text.trim())}</p>` : escapeHtml(text);
    },
    link({ href, title, tokens }) {
      return link(href, title, this.parser.parseInline(tokens));
    },
    image({ href, title, text }) {
      return link(href, title, escapeHtml(text || href));
    },
    checkbox({ checked }) {
      return checked ? '☑ ' : '☐ ';
    },
  },
});

const PURIFY = {
  ALLOWED_TAGS: ['p', 'br', 'hr', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'blockquote', 'ul', 'ol', 'li', 'pre', 'code', 'em', 'strong', 'del', 'a', 'table', 'thead', 'tbody', 'tr', 'th', 'td'],
  ALLOWED_ATTR: ['href', 'title', 'class', 'align', 'start'],
  ALLOW_DATA_ATTR: false,
  RETURN_DOM_FRAGMENT: true,
};

DOMPurify.addHook('afterSanitizeAttributes', (node) => {
  if (node.nodeName === 'A' && node.hasAttribute('href')) {
    node.setAttribute('target', '_blank');
    node.setAttribute('rel', 'noopener noreferrer nofollow');
  }
  if (node.nodeName === 'CODE' && node.hasAttribute('class') && !/^language-[\w+#.-]+$/.test(node.getAttribute('class'))) node.removeAttribute('class');
});

// Renders `text` into `container`. The blocks that did not change are kept as they are (while an
// answer streams in, all but the last): no re-layout of them, and a selection in them survives.
export function renderMarkdown(container, text) {
  const fragment = DOMPurify.sanitize(marked.parse(text), PURIFY);
  for (const node of [...fragment.childNodes]) {
    if (node.nodeType === Node.TEXT_NODE && node.textContent.trim() === '') node.remove(); // between blocks
  }
  for (const pre of fragment.querySelectorAll('pre')) decorateCodeBlock(pre);
  const next = [...fragment.childNodes];
  const current = [...container.childNodes];
  let same = 0;
  while (same < next.length && same < current.length && current[same].isEqualNode(next[same])) same += 1;
  for (const node of current.slice(same)) node.remove();
  container.append(...next.slice(same));
}

// A code block gets a bar with its language and a copy button. Their labels come from CSS
// (data-lang, ::before), so the message's text stays the answer's text.
function decorateCodeBlock(pre) {
  const lang = /^language-(.+)$/.exec(pre.querySelector('code')?.className ?? '')?.[1];
  const bar = document.createElement('div');
  bar.className = 'code-bar';
  if (lang) bar.dataset.lang = lang;
  if (navigator.clipboard) {
    const copy = document.createElement('button');
    copy.type = 'button';
    copy.className = 'code-copy button button--quiet button--small';
    copy.setAttribute('aria-label', 'Copy code');
    bar.append(copy);
  }
  const block = document.createElement('div');
  block.className = 'code-block';
  pre.replaceWith(block);
  block.append(bar, pre);
}

// Copies a code block; one listener for the whole log (code blocks come and go as answers render).
export function handleCodeCopy(event) {
  const button = event.target.closest?.('.code-copy');
  if (!button) return;
  const code = button.closest('.code-block')?.querySelector('pre')?.textContent ?? '';
  navigator.clipboard.writeText(code).then(
    () => flash(button, 'copied'),
    () => flash(button, 'failed'),
  );
}

function flash(button, state) {
  button.dataset.state = state;
  setTimeout(() => delete button.dataset.state, 1500);
}

// Re-rendering while deltas arrive: at most once per animation frame for all messages together,
// and less often when a render is slow (a long answer), so that rendering takes at most about a
// quarter of the time however long the answer grows. A hidden tab gets no animation frames: a
// timer stands in.
const queued = new Map(); // key → render function (the latest one)
let round = 0;
let scheduled = false;
let earliest = 0;

export function renderSoon(key, render) {
  queued.set(key, render);
  if (scheduled) return;
  scheduled = true;
  const mine = ++round;
  const run = () => {
    if (mine !== round || !scheduled) return;
    scheduled = false;
    const started = performance.now();
    const renders = [...queued.values()];
    queued.clear();
    for (const fn of renders) fn();
    const now = performance.now();
    earliest = now + (now - started) * 3;
  };
  setTimeout(() => {
    requestAnimationFrame(run);
    setTimeout(run, 100);
  }, Math.max(0, earliest - performance.now()));
}

// Drops a queued render (the caller renders now, with the final text).
export function cancelRender(key) {
  queued.delete(key);
}
