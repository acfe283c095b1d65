// What the page knows, shared by its modules.

export const STORAGE_KEYS = { anonId: 'chat.anon_id', token: 'chat.token', model: 'chat.model', project: 'chat.project' };
export const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const CHATS_PAGE_SIZE = 50;
export const MESSAGES_PAGE_SIZE = 100;

export const state = {
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
  // This tab's send/regenerate requests in flight: {chatId, messageId, stopRequested, ended}.
  pending: new Set(),
  usage: null,
  // Projects (id → view), the chosen one ('' for none: the documents outside any project), the
  // room this tab is in, and the documents of the chosen scope (id → view).
  projects: new Map(),
  projectId: '',
  joinedProject: '',
  documents: new Map(),
  // The upload under way: {name, phase: 'uploading' | 'processing', percent, documentId}.
  upload: null,
  authMode: 'signup',
  // True while sign-up / login moves this visitor's chats to the account.
  movingHistory: false,
  localSeq: 0,
};

// The identity headers of every HTTP request: the typed client calls this for each request,
// reconnections included.
export function identityHeaders() {
  return state.token ? { authorization: `Bearer ${state.token}` } : { 'x-anon-id': state.anonId };
}
