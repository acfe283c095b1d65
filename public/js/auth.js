// Identity and account: the anonymous id kept by this browser, sign-up and login (which move the
// visitor's chats to the account), logout.
import { errorFromResponse } from '/client/index.js';
import { el, storage, uuid } from './dom.js';
import { startNewChat } from './messages.js';
import { clearNotice, showError } from './notices.js';
import { renderChatList } from './chat-list.js';
import { connectSocket } from './socket.js';
import { identityHeaders, state, STORAGE_KEYS, UUID } from './state.js';
import { renderUsage } from './usage.js';

export function loadIdentity() {
  const stored = storage.get(STORAGE_KEYS.anonId);
  state.anonId = UUID.test(stored) ? stored : uuid();
  storage.set(STORAGE_KEYS.anonId, state.anonId);
  state.token = storage.get(STORAGE_KEYS.token);
}

// A new anonymous id, when the server refused the one this browser had.
export function renewAnonId() {
  state.anonId = uuid();
  storage.set(STORAGE_KEYS.anonId, state.anonId);
}

export async function loadAccount() {
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

export function renderAccount() {
  const signedIn = Boolean(state.token);
  el.accountName.textContent = signedIn ? state.user?.name || state.user?.email || 'Signed in' : 'Anonymous';
  el.accountName.title = signedIn && state.user ? state.user.email : 'Not signed in: chats are kept for this browser';
  el.signup.hidden = signedIn;
  el.login.hidden = signedIn;
  el.logout.hidden = !signedIn;
}

export function signOutLocally() {
  state.token = '';
  state.user = null;
  storage.set(STORAGE_KEYS.token, '');
  renderAccount();
}

export function openAuth(mode) {
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

export async function submitAuth(event) {
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
    if (!res.ok) {
      const messages = {
        EMAIL_TAKEN: 'This email is already registered. Log in instead?',
        INVALID_CREDENTIALS: 'Wrong email or password.',
        RATE_LIMITED: 'Too many attempts. Wait a moment and try again.',
      };
      const error = await errorFromResponse(res);
      return showAuthError(messages[error.code] ?? error.message);
    }
    const body = await res.json().catch(() => ({}));
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

export function logout() {
  signOutLocally();
  clearNotice();
  switchIdentity({ keepChat: false });
}

// Reconnects the socket as the new identity; the chat list is fetched again for it.
export function switchIdentity({ keepChat }) {
  renderAccount();
  state.chats.clear();
  state.chatsTotal = 0;
  renderChatList();
  if (!keepChat) startNewChat();
  connectSocket();
}
