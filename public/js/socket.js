// Socket.IO on /chats through the typed client's helpers: the chat list, history, usage and
// other tabs' generations. The socket.io-client itself is the `io` global that the server's
// /socket.io/socket.io.js sets (loaded before the modules).
import { ChatApiError, connectChats, GENERATION_EVENT_NAMES, request } from '/client/index.js';
import { renewAnonId, signOutLocally, switchIdentity } from './auth.js';
import { renderChatList } from './chat-list.js';
import { applyDocumentStatus, applyProjectUpdate, loadProjects } from './documents.js';
import { el } from './dom.js';
import { openChat, renderChatTitle, startNewChat } from './messages.js';
import { showError, showNotice } from './notices.js';
import { CHATS_PAGE_SIZE, state } from './state.js';
import { applyGeneration } from './stream.js';
import { renderUsage } from './usage.js';

// usage_info has a handler of its own.
const GENERATION_EVENTS = GENERATION_EVENT_NAMES.filter((name) => name !== 'usage_info');

export function connectSocket() {
  if (state.socket) {
    state.socket.removeAllListeners();
    state.socket.disconnect();
  }
  setConnection('connecting');
  // forceNew: a fresh connection with the new identity, never a cached one with the old.
  const socket = connectChats(window.io, '', state.token ? { token: state.token } : { anon_id: state.anonId }, { forceNew: true });
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
      renewAnonId();
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
  on('document_status', applyDocumentStatus);
  on('project_updated', applyProjectUpdate);
  for (const name of GENERATION_EVENTS) on(name, (data) => applyGeneration(name, data, 'socket'));
}

function onConnect() {
  setConnection('connected');
  emitAck('list_chats', { page: 0, limit: CHATS_PAGE_SIZE }).catch(showError);
  // The projects of this identity, and the chosen one's room (a new connection is in none).
  void loadProjects();
  // A reconnection may have missed events: join the open chat again and merge its history.
  if (state.currentChatId) void openChat(state.currentChatId, { refresh: true });
}

export function setConnection(connection) {
  const labels = { connecting: 'Connecting…', connected: 'Connected', reconnecting: 'Reconnecting…', offline: 'Offline' };
  el.connection.dataset.state = connection;
  el.connectionText.textContent = labels[connection];
}

// Emits with an acknowledgement; rejects with a ChatApiError ({code, message}) on refusal.
export function emitAck(event, payload) {
  if (!state.socket) return Promise.reject(new ChatApiError({ code: 'NETWORK_ERROR', message: 'Not connected' }));
  return request(state.socket, event, payload, { timeoutMs: 15_000 });
}
