// The page's elements and small DOM helpers. User and model text enters the page as text nodes
// (h() children, textContent) or, for answers, through the sanitising Markdown renderer only.

function byId(id) {
  const node = document.getElementById(id);
  if (!node) throw new Error(`#${id} is missing from index.html`);
  return node;
}

export const el = {
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
  projectSelect: byId('project-select'),
  newProject: byId('new-project-button'),
  projectForm: byId('project-form'),
  projectName: byId('project-name'),
  projectCancel: byId('project-cancel'),
  uploadButton: byId('upload-button'),
  uploadInput: byId('upload-input'),
  uploadStatus: byId('upload-status'),
  uploadLabel: byId('upload-label'),
  uploadProgress: byId('upload-progress'),
  documentList: byId('document-list'),
  documentListEmpty: byId('document-list-empty'),
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

// Builds an element; string children become text nodes (never parsed as HTML).
export function h(tag, attrs = {}, ...children) {
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

export const storage = {
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
export function uuid() {
  if (typeof crypto.randomUUID === 'function') return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const hex = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function formatTime(iso) {
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? '' : date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export const numberFormat = new Intl.NumberFormat();
