// The built-in web client. Native ES modules, no build step of its own, no framework. It uses the
// service as the wire contract's clients do, through the typed client (served at /client/):
// fetch reading the send stream for generations, Socket.IO on /chats for the chat list, history,
// usage and live updates from other tabs.
import { loadAccount, loadIdentity, logout, openAuth, renderAccount, submitAuth } from './auth.js';
import { loadMoreChats } from './chat-list.js';
import { wireDocuments } from './documents.js';
import { el, storage } from './dom.js';
import { handleCodeCopy } from './markdown.js';
import { openChat, renderChatTitle, startNewChat } from './messages.js';
import { clearNotice, showNotice } from './notices.js';
import { connectSocket, setConnection } from './socket.js';
import { state, STORAGE_KEYS } from './state.js';
import { generatingHere, regenerate, send, stopGeneration, updateControls } from './stream.js';
import { loadModels } from './usage.js';

function wire() {
  wireDocuments();
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
  el.moreChats.addEventListener('click', loadMoreChats);
  el.messages.addEventListener('click', handleCodeCopy);
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
