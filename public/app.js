// The built-in web client. Plain ES module, no build step, no framework. It uses the service
// exactly as the wire contract's clients do: fetch reading text/event-stream for generations,
// Socket.IO on /chats for the chat list, history, usage and live updates from other tabs.
// All user and model text goes into the page through textContent, never as HTML.

const STORAGE_KEYS = { anonId: 'chat.anon_id', token: 'chat.token', model: 'chat.model' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CHATS_PAGE_SIZE = 50;
const MESSAGES_PAGE_SIZE = 100;
const GENERATION_EVENTS = ['assistant_typing', 'assistant_regenerating', 'assistant_delta', 'assistant_complete', 'assistant_regenerated', 'assistant_error'];

const el = {
  connection: byId('connection'),
  connectionText: byId('connection-text'),
  usage: byId('usage'),
  usageText: byId('usage-text'),
  usageMeter: byId('usage-meter'),
  accountName: byId('account-name'),
  signup: byId('signup-button'),
  login: byId('login-button'),
  logout: byId('logout-button'),
  newChat: byId('new-chat-button'),
  chatList: byId('chat-list'),
  chatListEmpty: byId('chat-list-empty'),
  moreChats: byId('more-chats-button'),
  chatTitle: byId('chat-title'),
  notice: byId('notice'),
  messages: byId('messages'),
  composer: byId('composer'),
  input: byId('composer-input'),
  model: byId('model-select'),
  regenerate: byId('regenerate-button'),
  stop: byId('stop-button'),
  send: byId('send-button'),
  authDialog: byId('auth-dialog'),
  authForm: byId('auth-form'),
  authTitle: byId('auth-title'),
  authHint: byId('auth-hint'),
  authError: byId('auth-error'),
  authEmail: byId('auth-email'),
  authName: byId('auth-name'),
  authNameField: byId('auth-name-field'),
  authPassword: byId('auth-password'),
  authSwitch: byId('auth-switch'),
  authCancel: byId('auth-cancel'),
  authSubmit: byId('auth-submit'),
};

const state = {
  anonId: '',
  token: '',
  user: null,
  socket: null,
  chats: new Map(), // id → chat view
  chatsTotal: 0,
  chatsPage: 0,
  currentChatId: null,
  // The open chat's messages: id → message, in display order.
  view: new Map(),
  order: [],
  // Generations being rendered, by assistant message id. `via` says which transport this tab
  // follows it on: 'http' for its own sends and resumes, 'socket' for another tab's.
  live: new Map(),
  // Chats this tab asked to delete: their chat_deleted needs no explanation.
  deleting: new Set(),
  // Generations that ended here: late socket copies of their frames are ignored.
  finished: new Set(),
  // Generations this tab replayed over GET .../stream (at most once each).
  resumed: new Set(),
  // This tab's send/regenerate requests in flight: {chatId, messageId, stopRequested}.
  pending: new Set(),
  usage: null,
  models: [],
  authMode: 'signup',
  // True while sign-up / login moves this visitor's chats to the account.
  movingHistory: false,
  localSeq: 0,
};

// ---------------------------------------------------------------------------------------------
// Small helpers

function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node;
}

// Builds an element; string children become text nodes (never parsed as HTML).
function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === 'className') node.className = value;
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else if (name.startsWith('on')) node.addEventListener(name.slice(2).toLowerCase(), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.filter((c) => c !== undefined && c !== null && c !== false));
  return node;
}

const storage = {
  get(key) {
    try {
      return localStorage.getItem(key) ?? '';
    } catch {
      return '';
    }
  },
  set(key, value) {
    try {
      if (value) localStorage.setItem(key, value);
      else localStorage.removeItem(key);
    } catch {
      // private mode: the identity lasts as long as the page
    }
  },
};

// crypto.randomUUID exists only in secure contexts; a deployment may be opened over plain http.
function uuid() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function identityHeaders() {
  return state.token ? { authorization: `Bearer ${state.token}` } : { 'x-anon-id': state.anonId };
}

function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const numberFormat = new Intl.NumberFormat();

// ---------------------------------------------------------------------------------------------
// Server-Sent Events over fetch: the contract's frames are `id`, `event` and one JSON `data` line.

async function readEventStream(response, onFrame) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    let match;
    while ((match = /\r\n\r\n|\n\n|\r\r/.exec(buffer))) {
      const block = buffer.slice(0, match.index);
      buffer = buffer.slice(match.index + match[0].length);
      const frame = parseFrame(block);
      if (frame) onFrame(frame);
    }
  }
  const last = parseFrame(buffer);
  if (last) onFrame(last);
}

function parseFrame(block) {
  let event = 'message';
  let id;
  const data = [];
  for (const line of block.split(/\r\n|\n|\r/)) {
    if (!line || line.startsWith(':')) continue; // blank or a comment such as ": ping"
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? '' : line.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
    else if (field === 'id') id = value;
  }
  if (data.length === 0) return null;
  try {
    return { id, event, data: JSON.parse(data.join('\n')) };
  } catch {
    return null;
  }
}

// A refusal's body: one assistant_error frame (streams) or the JSON error shape (everything else).
async function readRefusal(response) {
  const type = response.headers.get('content-type') ?? '';
  let error = { code: 'INTERNAL_ERROR', error: `The server answered ${response.status}` };
  try {
    if (type.includes('text/event-stream')) {
      await readEventStream(response, (frame) => {
        if (frame.event === 'assistant_error') error = frame.data;
      });
    } else if (type.includes('json')) {
      const body = await response.json();
      error = { ...body, error: body.message };
    }
  } catch {
    // keep the generic error
  }
  const retryAfter = Number(response.headers.get('retry-after'));
  if (error.retry_after_ms === undefined && retryAfter > 0) error.retry_after_ms = retryAfter * 1000;
  return error;
}

// ---------------------------------------------------------------------------------------------
// Notices: one place turns the contract's error codes into words a person can act on.

function describeError(error) {
  const code = error.code ?? 'INTERNAL_ERROR';
  switch (code) {
    case 'ANON_LIMIT_REACHED': {
      const limit = state.usage?.messages_limit;
      const resets = error.resets_at ? ` Or come back after ${formatTime(error.resets_at)}.` : '';
      return {
        text: `You have used all ${limit ? `${limit} ` : ''}free messages. Sign up for free to keep chatting: the chats you have now come with you.${resets}`,
        actions: [
          { label: 'Sign up', primary: true, run: () => openAuth('signup') },
          { label: 'Log in', run: () => openAuth('login') },
        ],
      };
    }
    case 'INSUFFICIENT_BALANCE': {
      const balance = error.credits_balance ?? state.usage?.credits_balance;
      const needed = error.credits_required ? `, this request needs up to ${numberFormat.format(error.credits_required)}` : '';
      return {
        text: `Not enough credits for this request (balance ${balance === undefined ? 'unknown' : numberFormat.format(balance)}${needed}). Try a shorter message or another model.`,
      };
    }
    case 'RATE_LIMITED': {
      const seconds = error.retry_after_ms ? Math.max(1, Math.ceil(error.retry_after_ms / 1000)) : undefined;
      return { text: `Too many requests in a short time. ${seconds ? `Wait ${seconds} s` : 'Wait a moment'} and try again.` };
    }
    case 'PROVIDER_OVERLOADED':
      return { text: 'The model is overloaded right now. Try again in a moment.', actions: retryAction() };
    case 'PROVIDER_ERROR':
      return { text: 'The model provider could not answer. Try again, or choose another model.', actions: retryAction() };
    case 'UNKNOWN_MODEL':
      return { text: 'That model is not available. Choose another one.' };
    case 'CHAT_NOT_FOUND':
      return { text: 'This chat no longer exists.' };
    case 'MESSAGE_NOT_FOUND':
      return { text: 'That message no longer exists.' };
    case 'UNAUTHORIZED':
      return { text: 'Your session has ended. Log in again to see your chats.', actions: [{ label: 'Log in', primary: true, run: () => openAuth('login') }] };
    case 'VALIDATION_ERROR':
      return { text: error.error ?? error.message ?? 'The request was not accepted.' };
    case 'NETWORK':
      return { text: 'Could not reach the server. Check the connection and try again.' };
    default: {
      const ref = error.request_id ? ` (reference ${error.request_id})` : '';
      return { text: `Something went wrong${ref}. Try again.` };
    }
  }
}

function retryAction() {
  return state.currentChatId ? [{ label: 'Try again', primary: true, run: () => void regenerate() }] : [];
}

function showError(error) {
  const { text, actions = [] } = describeError(error);
  showNotice(text, { code: error.code, actions });
}

function showNotice(text, { code = '', tone = 'error', actions = [] } = {}) {
  el.notice.replaceChildren(
    h('p', { className: 'notice-text' }, text),
    ...actions.map((a) => h('button', { type: 'button', className: `button${a.primary ? ' button--primary' : ''}`, onclick: a.run }, a.label)),
    h('button', { type: 'button', className: 'button button--quiet notice-dismiss', 'aria-label': 'Dismiss', onclick: clearNotice }, '×'),
  );
  el.notice.dataset.code = code;
  el.notice.dataset.tone = tone;
  el.notice.hidden = false;
}

function clearNotice() {
  el.notice.hidden = true;
  el.notice.replaceChildren();
  delete el.notice.dataset.code;
}

// ---------------------------------------------------------------------------------------------
// Identity and account

function loadIdentity() {
  const stored = storage.get(STORAGE_KEYS.anonId);
  state.anonId = UUID.test(stored) ? stored : uuid();
  storage.set(STORAGE_KEYS.anonId, state.anonId);
  state.token = storage.get(STORAGE_KEYS.token);
}

async function loadAccount() {
  if (!state.token) return;
  try {
    const res = await fetch('/api/v1/auth/me', { headers: identityHeaders() });
    if (res.status === 401) {
      signOutLocally();
      showError({ code: 'UNAUTHORIZED' });
      return;
    }
    if (!res.ok) return;
    const body = await res.json();
    state.user = body.user;
    renderUsage(body.usage);
  } catch {
    // the socket's connection indicator tells the rest
  }
  renderAccount();
}

function renderAccount() {
  const signedIn = Boolean(state.token);
  el.accountName.textContent = signedIn ? (state.user?.name || state.user?.email || 'Signed in') : 'Anonymous';
  el.accountName.title = signedIn && state.user ? state.user.email : 'Not signed in: chats are kept for this browser';
  el.signup.hidden = signedIn;
  el.login.hidden = signedIn;
  el.logout.hidden = !signedIn;
}

function signOutLocally() {
  state.token = '';
  state.user = null;
  storage.set(STORAGE_KEYS.token, '');
  renderAccount();
}

function openAuth(mode) {
  state.authMode = mode;
  const signup = mode === 'signup';
  el.authTitle.textContent = signup ? 'Sign up' : 'Log in';
  el.authHint.textContent = signup ? 'Your chats so far come with you.' : 'The chats of this browser are added to your account.';
  el.authSubmit.textContent = signup ? 'Sign up' : 'Log in';
  el.authSwitch.textContent = signup ? 'I already have an account' : 'Create an account instead';
  el.authNameField.hidden = !signup;
  el.authPassword.autocomplete = signup ? 'new-password' : 'current-password';
  el.authPassword.minLength = signup ? 8 : 1;
  el.authError.hidden = true;
  if (!el.authDialog.open) el.authDialog.showModal();
  el.authEmail.focus();
}

async function submitAuth(event) {
  event.preventDefault();
  const signup = state.authMode === 'signup';
  const email = el.authEmail.value.trim();
  const password = el.authPassword.value;
  const name = el.authName.value.trim();
  const problem = !email || !el.authEmail.validity.valid ? 'Enter a valid email address.' : signup && password.length < 8 ? 'The password needs at least 8 characters.' : !password ? 'Enter your password.' : '';
  if (problem) return showAuthError(problem);
  el.authSubmit.disabled = true;
  // The move tells this visitor's sockets that its chats are gone; this tab takes them along.
  state.movingHistory = true;
  try {
    // x-anon-id moves this visitor's chats to the account.
    const res = await fetch(`/api/v1/auth/${signup ? 'register' : 'login'}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-anon-id': state.anonId },
      body: JSON.stringify(signup ? { email, password, ...(name ? { name } : {}) } : { email, password }),
    });
    const body = await res.json().catch(() => ({}));
    if (!res.ok) {
      const messages = {
        EMAIL_TAKEN: 'This email is already registered. Log in instead?',
        INVALID_CREDENTIALS: 'Wrong email or password.',
        RATE_LIMITED: 'Too many attempts. Wait a moment and try again.',
      };
      return showAuthError(messages[body.code] ?? body.message ?? `The server answered ${res.status}.`);
    }
    state.token = body.access_token;
    state.user = body.user;
    storage.set(STORAGE_KEYS.token, state.token);
    el.authPassword.value = '';
    el.authDialog.close();
    clearNotice();
    switchIdentity({ keepChat: true });
  } catch {
    showAuthError('Could not reach the server. Try again.');
  } finally {
    el.authSubmit.disabled = false;
    state.movingHistory = false;
  }
}

function showAuthError(text) {
  el.authError.textContent = text;
  el.authError.hidden = false;
}

function logout() {
  signOutLocally();
  clearNotice();
  switchIdentity({ keepChat: false });
}

// Reconnects the socket as the new identity; the chat list is fetched again for it.
function switchIdentity({ keepChat }) {
  renderAccount();
  state.chats.clear();
  state.chatsTotal = 0;
  renderChatList();
  if (!keepChat) startNewChat();
  connectSocket();
}

// ---------------------------------------------------------------------------------------------
// Socket.IO: chat list, history, usage and other tabs' generations

function connectSocket() {
  if (state.socket) {
    state.socket.removeAllListeners();
    state.socket.disconnect();
  }
  setConnection('connecting');
  // forceNew: a fresh connection with the new identity, never a cached one with the old.
  const socket = window.io('/chats', {
    path: '/socket.io',
    forceNew: true,
    auth: state.token ? { token: state.token } : { anon_id: state.anonId },
  });
  state.socket = socket;
  // Handlers of a replaced socket stay quiet.
  const on = (event, handler) => socket.on(event, (...args) => state.socket === socket && handler(...args));

  on('connect', onConnect);
  on('disconnect', (reason) => {
    if (reason === 'io client disconnect') return setConnection('offline');
    setConnection('reconnecting');
    // Socket.IO retries by itself except when the server closed the session (a restart, a
    // deploy): then connect again; a refused identity answers with connect_error instead.
    if (reason === 'io server disconnect') setTimeout(() => state.socket === socket && !socket.connected && socket.connect(), 1000 + Math.random() * 1000);
  });
  on('connect_error', (error) => {
    if (socket.active) return setConnection('reconnecting'); // transport trouble: it retries by itself
    // Refused by the server's handshake: the identity is not acceptable.
    if (error.message === 'UNAUTHORIZED' && state.token) {
      signOutLocally();
      showError({ code: 'UNAUTHORIZED' });
      switchIdentity({ keepChat: false });
    } else if (error.message === 'INVALID_ANON_ID' || error.message === 'IDENTITY_REQUIRED') {
      state.anonId = uuid();
      storage.set(STORAGE_KEYS.anonId, state.anonId);
      connectSocket();
    } else {
      setConnection('offline');
    }
  });
  socket.io.on('reconnect_attempt', () => state.socket === socket && setConnection('reconnecting'));

  on('chats_list', (list) => {
    if (list.page === 0) state.chats.clear();
    for (const chat of list.chats) state.chats.set(chat.id, chat);
    state.chatsTotal = list.total;
    state.chatsPage = list.page;
    renderChatList();
    renderChatTitle();
  });
  on('chat_created', ({ chat }) => {
    if (!state.chats.has(chat.id)) state.chatsTotal += 1;
    state.chats.set(chat.id, chat);
    renderChatList();
    if (chat.id === state.currentChatId) renderChatTitle();
  });
  on('chat_updated', ({ chat }) => {
    state.chats.set(chat.id, { ...state.chats.get(chat.id), ...chat });
    renderChatList();
    if (chat.id === state.currentChatId) renderChatTitle();
  });
  on('chat_deleted', ({ chat_id }) => {
    if (state.movingHistory) return;
    if (state.chats.delete(chat_id)) state.chatsTotal = Math.max(0, state.chatsTotal - 1);
    renderChatList();
    if (chat_id === state.currentChatId) {
      startNewChat();
      if (!state.deleting.has(chat_id)) showNotice('The chat you had open was deleted in another window.', { tone: 'info' });
    }
    state.deleting.delete(chat_id);
  });
  on('usage_info', renderUsage);
  for (const name of GENERATION_EVENTS) on(name, (data) => applyGeneration(name, data, 'socket'));
}

function onConnect() {
  setConnection('connected');
  emitAck('list_chats', { page: 0, limit: CHATS_PAGE_SIZE }).catch(showError);
  // A reconnection may have missed events: join the open chat again and merge its history.
  if (state.currentChatId) void openChat(state.currentChatId, { refresh: true });
}

function setConnection(connection) {
  const labels = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline' };
  el.connection.dataset.state = connection;
  el.connectionText.textContent = labels[connection];
}

// Emits with an acknowledgement; rejects with the contract's {code, message} on refusal.
function emitAck(event, payload) {
  const socket = state.socket;
  return new Promise((resolve, reject) => {
    if (!socket) return reject({ code: 'NETWORK', message: 'Not connected' });
    socket.timeout(15_000).emit(event, payload, (timeout, answer) => {
      if (timeout) return reject({ code: 'NETWORK', message: 'The server did not answer' });
      if (answer && answer.error) return reject(answer.error);
      resolve(answer);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Chat list

function sortedChats() {
  return [...state.chats.values()].sort((a, b) => (b.updated_at ?? '').localeCompare(a.updated_at ?? '') || b.id.localeCompare(a.id));
}

function chatTitle(chat) {
  return chat?.title?.trim() || 'Untitled chat';
}

function renderChatList() {
  const editing = el.chatList.querySelector('.chat-rename');
  if (editing) return; // do not yank the field from under the keyboard; re-rendered after
  const focusedId = document.activeElement?.closest?.('.chat-item')?.dataset.chatId;
  const focusedRole = document.activeElement?.dataset?.action;
  const items = sortedChats().map((chat) => {
    const title = chatTitle(chat);
    const current = chat.id === state.currentChatId;
    return h(
      'li',
      { className: `chat-item${current ? ' chat-item--current' : ''}`, dataset: { chatId: chat.id } },
      h('button', { type: 'button', className: 'chat-open', 'aria-current': current ? 'page' : undefined, dataset: { action: 'open' }, onclick: () => void openChat(chat.id) },
        h('span', { className: 'chat-open-title' }, title),
        h('span', { className: 'chat-open-time muted' }, formatTime(chat.last_message_at ?? chat.updated_at)),
      ),
      h('span', { className: 'chat-actions' },
        h('button', { type: 'button', className: 'button button--quiet button--small', 'aria-label': `Rename “${title}”`, dataset: { action: 'rename' }, onclick: () => startRename(chat.id) }, 'Rename'),
        h('button', { type: 'button', className: 'button button--quiet button--small button--danger-text', 'aria-label': `Delete “${title}”`, dataset: { action: 'delete' }, onclick: () => void deleteChat(chat.id) }, 'Delete'),
      ),
    );
  });
  el.chatList.replaceChildren(...items);
  el.chatListEmpty.hidden = items.length > 0;
  el.moreChats.hidden = state.chats.size >= state.chatsTotal;
  if (focusedId) el.chatList.querySelector(`[data-chat-id="${CSS.escape(focusedId)}"] [data-action="${focusedRole ?? 'open'}"]`)?.focus();
}

function startRename(chatId) {
  const item = el.chatList.querySelector(`[data-chat-id="${CSS.escape(chatId)}"]`);
  if (!item) return;
  const chat = state.chats.get(chatId);
  const input = h('input', { type: 'text', className: 'chat-rename-input', maxlength: 200, 'aria-label': 'New chat title', required: true });
  input.value = chat?.title ?? '';
  let done = false;
  const finish = async (save) => {
    if (done) return;
    done = true;
    const title = input.value.trim();
    form.remove();
    renderChatList();
    el.chatList.querySelector(`[data-chat-id="${CSS.escape(chatId)}"] [data-action="rename"]`)?.focus();
    if (!save || !title || title === chat?.title) return;
    try {
      await emitAck('rename_chat', { chat_id: chatId, title }); // chat_updated updates the list
    } catch (error) {
      showError(error);
    }
  };
  const form = h('form', { className: 'chat-rename', onsubmit: (e) => { e.preventDefault(); void finish(true); } },
    input,
    h('button', { type: 'submit', className: 'button button--small button--primary' }, 'Save'),
    h('button', { type: 'button', className: 'button button--small', onclick: () => void finish(false) }, 'Cancel'),
  );
  form.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      void finish(false);
    }
  });
  form.addEventListener('focusout', (e) => {
    if (!form.contains(e.relatedTarget)) void finish(false);
  });
  item.replaceChildren(form);
  input.focus();
  input.select();
}

async function deleteChat(chatId) {
  const title = chatTitle(state.chats.get(chatId));
  if (!window.confirm(`Delete “${title}” and all its messages? This cannot be undone.`)) return;
  state.deleting.add(chatId);
  try {
    await emitAck('delete_chat', { chat_id: chatId }); // chat_deleted updates the list
  } catch (error) {
    state.deleting.delete(chatId);
    showError(error);
  }
}

// ---------------------------------------------------------------------------------------------
// The open chat

function startNewChat() {
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

async function openChat(chatId, { refresh = false } = {}) {
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
async function loadMessages(chatId) {
  const first = await emitAck('list_messages', { chat_id: chatId, page: 0, limit: MESSAGES_PAGE_SIZE });
  let messages = first.messages;
  if (first.total > first.limit) {
    const last = Math.ceil(first.total / first.limit) - 1;
    const pages = await Promise.all([last - 1, last].map((page) => emitAck('list_messages', { chat_id: chatId, page, limit: MESSAGES_PAGE_SIZE })));
    messages = pages.flatMap((p) => p.messages);
  }
  if (state.currentChatId !== chatId) return;
  mergeMessages(messages);
  el.messages.dataset.loaded = 'true';
  // Generations still running that this tab is not following yet (opened mid-answer).
  for (const m of messages) if (m.role === 'assistant' && m.status === 'streaming' && !state.live.has(m.id)) void resume(m.id, chatId);
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

function renderChatTitle() {
  const chat = state.currentChatId ? state.chats.get(state.currentChatId) : null;
  const title = state.currentChatId ? chatTitle(chat) : 'New chat';
  el.chatTitle.textContent = state.currentChatId && !chat ? 'Chat' : title;
  document.title = state.currentChatId ? `${title} · Chat` : 'Chat';
}

// ---------------------------------------------------------------------------------------------
// Messages

const STATUS_LABELS = { streaming: 'Writing…', stopped: 'Stopped', error: 'Failed', superseded: 'Replaced by a newer answer' };

function messageNode(id) {
  return el.messages.querySelector(`.message[data-message-id="${CSS.escape(id)}"]`);
}

function buildMessage(msg) {
  const content = h('div', { className: 'message-content' });
  content.textContent = displayedContent(msg);
  const node = h('article', { className: 'message', dataset: { messageId: msg.id } },
    h('div', { className: 'message-meta' },
      h('span', { className: 'message-author' }, msg.role === 'user' ? 'You' : 'Assistant'),
      h('span', { className: 'message-model muted' }),
      h('span', { className: 'message-status' }),
    ),
    content,
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
  const content = node.querySelector('.message-content');
  const text = displayedContent(msg);
  if (content.textContent !== text) content.textContent = text;
}

function shortCode(code) {
  const words = { PROVIDER_OVERLOADED: 'the model is overloaded', PROVIDER_ERROR: 'the model provider failed', STOPPED: 'stopped', INTERNAL_ERROR: 'server error' };
  return words[code] ?? code.toLowerCase().replaceAll('_', ' ');
}

function renderMessages() {
  const stick = isNearBottom();
  const nodes = state.order.map((id) => buildMessage(state.view.get(id)));
  el.messages.replaceChildren(...(nodes.length ? nodes : [h('p', { className: 'messages-empty muted' }, state.currentChatId ? 'No messages yet.' : 'Send a message to start a conversation.')]));
  if (stick) scrollToBottom();
}

// Shows one message: updates it in place or appends it.
function renderMessage(id) {
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

function upsertMessage(msg) {
  const existing = state.view.get(msg.id);
  state.view.set(msg.id, { ...existing, ...msg });
  if (!existing) state.order.push(msg.id);
  renderMessage(msg.id);
}

// This tab's unconfirmed user message gets the id the server gave it.
function confirmLocalMessage(localId, serverId) {
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

function removeMessage(id) {
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

// ---------------------------------------------------------------------------------------------
// Generations: one handler for frames read from this tab's own streams and for events pushed
// by the socket for generations started elsewhere.

function applyGeneration(event, data, via) {
  if (event === 'usage_info') return renderUsage(data);
  const id = data.message_id;
  if (!id) {
    // A refusal pushed to every tab of this identity (quota), not tied to a message.
    if (event === 'assistant_error') showError(data);
    return;
  }
  const live = state.live.get(id);
  if (via === 'socket') {
    if (data.chat_id && data.chat_id !== state.currentChatId) return;
    if (live?.via === 'http' || state.finished.has(id)) return; // this tab reads it from its own stream
    // A generation already under way when this tab joined: replay it from the start instead.
    if (!live && (event === 'assistant_delta' || event === 'assistant_complete' || event === 'assistant_regenerated' || event === 'assistant_error')) {
      if (event === 'assistant_delta') void resume(id, data.chat_id ?? state.currentChatId);
      else void refreshMessages();
      return;
    }
  }
  const here = (data.chat_id ?? live?.chatId) === state.currentChatId;

  switch (event) {
    case 'assistant_regenerating':
    case 'assistant_typing': {
      // The start of a generation (or of its replay): its text is rebuilt from here.
      state.live.set(id, { via, chatId: data.chat_id, content: '' });
      if (event === 'assistant_regenerating' && data.replaces && here) {
        const old = state.view.get(data.replaces);
        if (old) upsertMessage({ ...old, status: 'superseded' });
      }
      if (here) {
        upsertMessage({ id, role: 'assistant', content: '', status: 'streaming', ...(data.model ? { model: data.model } : {}) });
        // Another tab's message: its text comes with the history.
        if (event === 'assistant_typing' && via === 'socket' && !state.view.has(data.user_message_id) && !sendingIn(data.chat_id)) void refreshMessages();
      }
      break;
    }
    case 'assistant_delta': {
      if (!live) return;
      live.content += data.delta;
      if (here) renderMessage(id);
      break;
    }
    case 'assistant_complete':
    case 'assistant_regenerated': {
      state.live.delete(id);
      markFinished(id);
      if (here) upsertMessage({ id, role: 'assistant', content: data.content, status: 'complete', model: data.model, usage: data.usage });
      break;
    }
    case 'assistant_error': {
      const content = live?.content;
      state.live.delete(id);
      markFinished(id);
      const stopped = data.code === 'STOPPED';
      if (here) {
        const known = state.view.get(id);
        upsertMessage({ id, role: 'assistant', content: content ?? known?.content ?? '', status: stopped ? 'stopped' : 'error', error_code: stopped ? null : data.code });
      }
      if (!stopped && (here || via === 'http')) showError(data);
      break;
    }
  }
  updateControls();
}

function markFinished(id) {
  state.finished.add(id);
  if (state.finished.size > 200) state.finished.delete(state.finished.values().next().value);
}

// This tab is waiting for the first frame of a request of its own in that chat.
function sendingIn(chatId) {
  return [...state.pending].some((p) => !p.messageId && (p.chatId === null || p.chatId === chatId));
}

async function refreshMessages() {
  const chatId = state.currentChatId;
  if (!chatId) return;
  try {
    await loadMessages(chatId);
  } catch (error) {
    showError(error);
  }
}

// Follows a generation over GET /messages/:id/stream from its first frame.
async function resume(messageId, chatId) {
  if (state.live.get(messageId)?.via === 'http' || state.resumed.has(messageId)) return;
  state.resumed.add(messageId);
  state.live.set(messageId, { via: 'http', chatId, content: state.live.get(messageId)?.content ?? '' });
  try {
    const res = await fetch(`/api/v1/messages/${encodeURIComponent(messageId)}/stream`, { headers: { ...identityHeaders(), accept: 'text/event-stream' } });
    if (!res.ok) throw await readRefusal(res);
    await readEventStream(res, (frame) => applyGeneration(frame.event, frame.data, 'http'));
  } catch {
    // fall back to what is stored
  }
  if (state.live.get(messageId)?.via === 'http') {
    state.live.delete(messageId);
    updateControls();
    if (chatId === state.currentChatId) void refreshMessages();
  }
}

// ---------------------------------------------------------------------------------------------
// Sending, regenerating, stopping

async function send() {
  const content = el.input.value;
  if (!content.trim() || generatingHere()) return;
  clearNotice();
  const localId = `local-${++state.localSeq}`;
  upsertMessage({ id: localId, role: 'user', content, status: 'complete' });
  el.input.value = '';
  const body = { content, client_message_id: uuid() };
  if (state.currentChatId) body.chat_id = state.currentChatId;
  if (el.model.value) body.model = el.model.value;
  const ok = await stream('/api/v1/messages/send', body, localId);
  if (!ok) {
    // Refused before it started: nothing was stored, so give the text back.
    removeMessage(localId);
    if (!el.input.value) el.input.value = content;
  }
}

async function regenerate() {
  if (!state.currentChatId || generatingHere()) return;
  clearNotice();
  const body = { chat_id: state.currentChatId };
  if (el.model.value) body.model = el.model.value;
  await stream('/api/v1/messages/regenerate', body, null);
}

// POSTs and renders the answer frame by frame. Answers false when refused before generation.
async function stream(url, body, localId) {
  const pending = { chatId: body.chat_id ?? null, messageId: null, stopRequested: false };
  state.pending.add(pending);
  updateControls();
  let started = false;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { ...identityHeaders(), 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
    });
    if (!res.ok) {
      const error = await readRefusal(res);
      if (error.code === 'UNAUTHORIZED' && state.token) {
        signOutLocally();
        switchIdentity({ keepChat: false });
      }
      showError(error);
      return false;
    }
    await readEventStream(res, (frame) => {
      const { event, data } = frame;
      if ((event === 'assistant_typing' || event === 'assistant_regenerating') && !started) {
        started = true;
        pending.messageId = data.message_id;
        if (!state.currentChatId && !pending.chatId) adoptNewChat(data.chat_id);
        pending.chatId = data.chat_id;
        if (pending.stopRequested) void stopMessage(data.message_id);
      }
      if (event === 'assistant_typing' && localId) confirmLocalMessage(localId, data.user_message_id);
      applyGeneration(event, data, 'http');
    });
    if (!started) return false;
    // The stream ended without a last word (server restarted?): show what was stored.
    if (state.live.get(pending.messageId)?.via === 'http') {
      state.live.delete(pending.messageId);
      void refreshMessages();
    }
    return true;
  } catch {
    if (!started) {
      showError({ code: 'NETWORK' });
      return false;
    }
    // The connection broke mid-answer: the server stored what it had; show that.
    if (pending.messageId && state.live.get(pending.messageId)?.via === 'http') {
      state.live.delete(pending.messageId);
      showError({ code: 'NETWORK' });
      void refreshMessages();
    }
    return true;
  } finally {
    state.pending.delete(pending);
    updateControls();
  }
}

// A send without chat_id created a chat: it becomes the open one.
function adoptNewChat(chatId) {
  state.currentChatId = chatId;
  history.replaceState(null, '', `#chat=${chatId}`);
  el.messages.dataset.chatId = chatId;
  renderChatTitle();
  renderChatList();
  emitAck('join_chat', { chat_id: chatId })
    .then(() => {
      if (state.currentChatId === chatId) el.messages.dataset.joined = 'true';
    })
    .catch(() => undefined);
}

function liveHere() {
  return [...state.live.entries()].filter(([, live]) => live.chatId === state.currentChatId).map(([id]) => id);
}

function generatingHere() {
  return liveHere().length > 0 || [...state.pending].some((p) => p.chatId === state.currentChatId);
}

async function stopGeneration() {
  const ids = liveHere();
  for (const p of state.pending) if (!p.messageId && p.chatId === state.currentChatId) p.stopRequested = true;
  await Promise.all(ids.map(stopMessage));
}

async function stopMessage(messageId) {
  try {
    const res = await fetch(`/api/v1/messages/${encodeURIComponent(messageId)}/stop`, { method: 'POST', headers: identityHeaders() });
    if (!res.ok) showError(await readRefusal(res));
  } catch {
    showError({ code: 'NETWORK' });
  }
}

function updateControls() {
  const generating = generatingHere();
  const hasUserMessage = state.order.some((id) => state.view.get(id)?.role === 'user');
  el.send.disabled = generating;
  el.stop.hidden = !generating;
  el.regenerate.disabled = generating || !state.currentChatId || !hasUserMessage;
  el.messages.setAttribute('aria-busy', String(generating));
  if (generating && document.activeElement === el.send) el.input.focus();
}

// ---------------------------------------------------------------------------------------------
// Usage and models

function renderUsage(usage) {
  if (!usage) return;
  // Ignore a stale push from the identity this tab just left.
  if (usage.identity === 'user' && !state.token) return;
  if (usage.identity === 'anonymous' && state.token) return;
  state.usage = usage;
  el.usage.hidden = false;
  if (usage.identity === 'anonymous') {
    if (usage.messages_limit === null || usage.messages_limit === undefined) {
      el.usageText.textContent = 'Unlimited messages';
      el.usageMeter.hidden = true;
      return;
    }
    const remaining = usage.messages_remaining ?? Math.max(0, usage.messages_limit - usage.messages_used);
    el.usageText.textContent = `${remaining} of ${usage.messages_limit} free messages left`;
    el.usageMeter.hidden = false;
    el.usageMeter.max = usage.messages_limit;
    el.usageMeter.value = remaining;
    el.usageMeter.low = Math.max(1, Math.ceil(usage.messages_limit * 0.2));
    el.usageMeter.optimum = usage.messages_limit;
    el.usage.title = usage.resets_at ? `Resets ${formatTime(usage.resets_at)}` : '';
  } else {
    const balance = usage.credits_balance ?? 0;
    const reserved = usage.credits_reserved ? ` (${numberFormat.format(usage.credits_reserved)} held)` : '';
    el.usageText.textContent = `${numberFormat.format(balance)} credits${reserved}`;
    el.usageMeter.hidden = true;
    el.usage.title = '';
  }
}

async function loadModels() {
  try {
    const res = await fetch('/api/v1/models');
    if (!res.ok) throw new Error(String(res.status));
    const { models } = await res.json();
    state.models = models;
    const saved = storage.get(STORAGE_KEYS.model);
    const chosen = models.find((m) => m.id === saved) ?? models.find((m) => m.default) ?? models[0];
    el.model.replaceChildren(...models.map((m) => h('option', { value: m.id }, m.default ? `${m.id} (default)` : m.id)));
    if (chosen) el.model.value = chosen.id;
    el.model.disabled = models.length < 2;
  } catch {
    el.model.replaceChildren(h('option', { value: '' }, 'Default model'));
  }
}

// ---------------------------------------------------------------------------------------------
// Wiring

function wire() {
  el.composer.addEventListener('submit', (e) => {
    e.preventDefault();
    void send();
  });
  el.input.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
      e.preventDefault();
      void send();
    } else if (e.key === 'Escape' && generatingHere()) {
      e.preventDefault();
      void stopGeneration();
    }
  });
  el.stop.addEventListener('click', () => void stopGeneration());
  el.regenerate.addEventListener('click', () => void regenerate());
  el.model.addEventListener('change', () => storage.set(STORAGE_KEYS.model, el.model.value));
  el.newChat.addEventListener('click', () => {
    clearNotice();
    startNewChat();
    el.input.focus();
  });
  el.moreChats.addEventListener('click', () => {
    emitAck('list_chats', { page: state.chatsPage + 1, limit: CHATS_PAGE_SIZE }).catch(showError);
  });
  el.signup.addEventListener('click', () => openAuth('signup'));
  el.login.addEventListener('click', () => openAuth('login'));
  el.logout.addEventListener('click', logout);
  el.authForm.addEventListener('submit', (e) => void submitAuth(e));
  el.authSwitch.addEventListener('click', () => openAuth(state.authMode === 'signup' ? 'login' : 'signup'));
  el.authCancel.addEventListener('click', () => el.authDialog.close());
  window.addEventListener('hashchange', () => {
    const id = chatIdFromHash();
    if (id && id !== state.currentChatId) void openChat(id);
  });
}

function chatIdFromHash() {
  const match = /^#chat=([0-9a-f-]{36})$/i.exec(location.hash);
  return match ? match[1] : null;
}

async function main() {
  wire();
  loadIdentity();
  renderAccount();
  if (typeof window.io !== 'function') {
    setConnection('offline');
    showNotice('The Socket.IO client could not be loaded from /socket.io/socket.io.js.');
    return;
  }
  await loadAccount();
  const hashChat = chatIdFromHash();
  if (hashChat) {
    state.currentChatId = hashChat;
    el.messages.dataset.chatId = hashChat;
    renderChatTitle();
  }
  connectSocket(); // on connect: the chat list, and the chat from the address if any
  await loadModels();
  updateControls();
  el.input.focus();
}

void main();
