// The open chat: its history (joined over the socket, then listed) and its messages on the page.
// A user's message is shown as the text it is; an answer is rendered as sanitised Markdown.
import { chatTitle, renderChatList } from './chat-list.js';
import { el, h } from './dom.js';
import { cancelRender, renderMarkdown, renderSoon } from './markdown.js';
import { showError } from './notices.js';
import { emitAck } from './socket.js';
import { MESSAGES_PAGE_SIZE, state } from './state.js';
import { resume, updateControls } from './stream.js';
import { selectProject } from './documents.js';

export function startNewChat() {
  if (state.currentChatId) emitAck('leave_chat', { chat_id: state.currentChatId }).catch(() => undefined);
  state.currentChatId = null;
  state.view = new Map();
  state.order = [];
  delete el.messages.dataset.chatId;
  delete el.messages.dataset.joined;
  delete el.messages.dataset.loaded;
  if (location.hash) history.replaceState(null, '', location.pathname + location.search);
  renderChatTitle();
  renderChatList();
  renderMessages();
  updateControls();
}

export async function openChat(chatId, { refresh = false } = {}) {
  const previous = state.currentChatId;
  if (previous !== chatId || !refresh) {
    if (previous && previous !== chatId) emitAck('leave_chat', { chat_id: previous }).catch(() => undefined);
    if (previous !== chatId) {
      state.view = new Map();
      state.order = [];
      delete el.messages.dataset.loaded;
    }
    state.currentChatId = chatId;
    history.replaceState(null, '', `#chat=${chatId}`);
    // The picker shows the project the chat answers from.
    const chat = state.chats.get(chatId);
    if (chat && (chat.project_id ?? '') !== state.projectId) void selectProject(chat.project_id ?? '');
    renderChatTitle();
    renderChatList();
    renderMessages();
    updateControls();
  }
  el.messages.dataset.chatId = chatId;
  delete el.messages.dataset.joined;
  try {
    // Join first, then read the history: nothing can fall between the two.
    await emitAck('join_chat', { chat_id: chatId });
    if (state.currentChatId !== chatId) return;
    el.messages.dataset.joined = 'true';
    await loadMessages(chatId);
  } catch (error) {
    if (state.currentChatId !== chatId) return;
    if (error.code === 'CHAT_NOT_FOUND') startNewChat();
    showError(error);
  }
}

// Oldest first; a long chat shows its latest two pages.
export async function loadMessages(chatId) {
  const first = await emitAck('list_messages', { chat_id: chatId, page: 0, limit: MESSAGES_PAGE_SIZE });
  let messages = first.messages;
  if (first.total > first.limit) {
    const last = Math.ceil(first.total / first.limit) - 1;
    const pages = await Promise.all([last - 1, last].map((page) => (page === 0 ? first : emitAck('list_messages', { chat_id: chatId, page, limit: MESSAGES_PAGE_SIZE }))));
    messages = pages.flatMap((p) => p.messages);
  }
  if (state.currentChatId !== chatId) return;
  mergeMessages(messages);
  el.messages.dataset.loaded = 'true';
  // Generations still running that this tab is not following yet (opened mid-answer).
  for (const m of messages) if (m.role === 'assistant' && m.status === 'streaming' && !state.live.has(m.id)) void resume(m.id, chatId);
}

export async function refreshMessages() {
  const chatId = state.currentChatId;
  if (!chatId) return;
  try {
    await loadMessages(chatId);
  } catch (error) {
    showError(error);
  }
}

// Stored messages replace what is shown, except what the server does not have yet (this tab's
// unconfirmed message) and the text of generations being followed live.
function mergeMessages(stored) {
  const view = new Map();
  const order = [];
  for (const m of stored) {
    view.set(m.id, { ...m });
    order.push(m.id);
  }
  for (const id of state.order) {
    if (view.has(id)) continue;
    if (id.startsWith('local-') || state.live.has(id)) {
      view.set(id, state.view.get(id));
      order.push(id);
    }
  }
  state.view = view;
  state.order = order;
  renderMessages();
  updateControls();
}

export function renderChatTitle() {
  const chat = state.currentChatId ? state.chats.get(state.currentChatId) : null;
  const title = state.currentChatId ? chatTitle(chat) : 'New chat';
  el.chatTitle.textContent = state.currentChatId && !chat ? 'Chat' : title;
  document.title = state.currentChatId ? `${title} · Chat` : 'Chat';
}

// ---------------------------------------------------------------------------------------------
// Messages on the page

const STATUS_LABELS = { streaming: 'Writing…', stopped: 'Stopped', error: 'Failed', superseded: 'Replaced by a newer answer' };

// The text each message's content element shows now (skips renders that would change nothing).
const shownText = new WeakMap();

function messageNode(id) {
  return el.messages.querySelector(`.message[data-message-id="${CSS.escape(id)}"]`);
}

function buildMessage(msg) {
  const node = h('article', { className: 'message', dataset: { messageId: msg.id } },
    h('div', { className: 'message-meta' },
      h('span', { className: 'message-author' }, msg.role === 'user' ? 'You' : 'Assistant'),
      h('span', { className: 'message-model muted' }),
      h('span', { className: 'message-status' }),
    ),
    h('div', { className: msg.role === 'assistant' ? 'message-content markdown' : 'message-content' }),
    msg.role === 'assistant' ? h('div', { className: 'message-sources', hidden: true }) : null,
  );
  updateMessageNode(node, msg);
  return node;
}

function displayedContent(msg) {
  return state.live.get(msg.id)?.content ?? msg.content ?? '';
}

function updateMessageNode(node, msg) {
  const status = state.live.has(msg.id) ? 'streaming' : (msg.status ?? 'complete');
  node.dataset.role = msg.role;
  node.dataset.status = status;
  node.dataset.messageId = msg.id;
  node.className = `message message--${msg.role} message--${status}`;
  node.setAttribute('aria-busy', String(status === 'streaming'));
  node.querySelector('.message-model').textContent = msg.role === 'assistant' && msg.model ? msg.model : '';
  const badge = node.querySelector('.message-status');
  const label = status === 'error' && msg.error_code ? `Failed: ${shortCode(msg.error_code)}` : (STATUS_LABELS[status] ?? '');
  badge.textContent = label;
  badge.hidden = !label;
  renderContent(node.querySelector('.message-content'), msg, displayedContent(msg), status === 'streaming');
  const sources = node.querySelector('.message-sources');
  if (sources) renderSources(sources, msg.sources ?? []);
}

// The passages an answer was given, numbered as the model was told to cite them ([1], [2]):
// the file, the page or section, and an excerpt (as text, never markup).
const EXCERPT_CHARS = 280;
const shownSources = new WeakMap();

function renderSources(container, sources) {
  const key = sources.map((s) => s.id).join(',');
  if (shownSources.get(container) === key) return;
  shownSources.set(container, key);
  container.hidden = sources.length === 0;
  if (sources.length === 0) return container.replaceChildren();
  container.replaceChildren(
    h('h4', { className: 'sources-title' }, sources.length === 1 ? 'Source' : `Sources (${sources.length})`),
    h('ol', { className: 'sources-list' },
      ...sources.map((source, i) => {
        const where = source.metadata?.page ? `page ${source.metadata.page}` : source.metadata?.heading ?? '';
        const text = source.content.replace(/\s+/g, ' ').trim();
        const excerpt = text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS).replace(/\s\S*$/, '')}…` : text;
        return h('li', { className: 'source', dataset: { documentId: source.document_id } },
          h('details', {},
            h('summary', {},
              h('span', { className: 'source-number' }, `[${i + 1}]`),
              ' ',
              h('span', { className: 'source-file' }, source.filename),
              where ? h('span', { className: 'source-where muted' }, ` · ${where}`) : null,
            ),
            h('p', { className: 'source-excerpt' }, excerpt),
          ),
        );
      }),
    ),
  );
}

function renderContent(content, msg, text, streaming) {
  if (msg.role !== 'assistant') {
    if (content.textContent !== text) content.textContent = text;
    return;
  }
  // Settled, or shown for the first time: now. (A new element is never left blank for a frame.)
  if (!streaming || !shownText.has(content)) {
    cancelRender(content);
    if (shownText.get(content) !== text) paint(content, text);
    return;
  }
  // While it streams: the latest text, at the next frame.
  renderSoon(content, () => {
    if (shownText.get(content) === text || !content.isConnected) return;
    const stick = isNearBottom();
    paint(content, text);
    if (stick) scrollToBottom();
  });
}

function paint(content, text) {
  renderMarkdown(content, text);
  shownText.set(content, text);
}

function shortCode(code) {
  const words = { PROVIDER_OVERLOADED: 'the model is overloaded', PROVIDER_ERROR: 'the model provider failed', STOPPED: 'stopped', INTERNAL_ERROR: 'server error' };
  return words[code] ?? code.toLowerCase().replaceAll('_', ' ');
}

export function renderMessages() {
  const stick = isNearBottom();
  const nodes = state.order.map((id) => buildMessage(state.view.get(id)));
  el.messages.replaceChildren(...(nodes.length ? nodes : [h('p', { className: 'messages-empty muted' }, state.currentChatId ? 'No messages yet.' : 'Send a message to start a conversation.')]));
  if (stick) scrollToBottom();
}

// Shows one message: updates it in place or appends it.
export function renderMessage(id) {
  const msg = state.view.get(id);
  if (!msg) return;
  const stick = isNearBottom();
  const node = messageNode(id);
  if (node) updateMessageNode(node, msg);
  else {
    el.messages.querySelector('.messages-empty')?.remove();
    el.messages.append(buildMessage(msg));
  }
  if (stick) scrollToBottom();
}

export function upsertMessage(msg) {
  const existing = state.view.get(msg.id);
  state.view.set(msg.id, { ...existing, ...msg });
  if (!existing) state.order.push(msg.id);
  renderMessage(msg.id);
}

// This tab's unconfirmed user message gets the id the server gave it.
export function confirmLocalMessage(localId, serverId) {
  const msg = state.view.get(localId);
  if (!msg) return;
  state.view.delete(localId);
  const index = state.order.indexOf(localId);
  if (state.view.has(serverId)) {
    state.order.splice(index, 1); // the history already brought it
    messageNode(localId)?.remove();
    return;
  }
  state.view.set(serverId, { ...msg, id: serverId });
  state.order[index] = serverId;
  const node = messageNode(localId);
  if (node) node.dataset.messageId = serverId;
}

export function removeMessage(id) {
  state.view.delete(id);
  state.order = state.order.filter((x) => x !== id);
  messageNode(id)?.remove();
  if (state.order.length === 0) renderMessages();
}

function isNearBottom() {
  return el.messages.scrollHeight - el.messages.scrollTop - el.messages.clientHeight < 80;
}

function scrollToBottom() {
  el.messages.scrollTop = el.messages.scrollHeight;
}
