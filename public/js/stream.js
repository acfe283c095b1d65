// Generations: this tab's sends and regenerations read with the typed client (which resumes a
// dropped stream by itself), replays of generations started elsewhere, stop, and one handler for
// frames from this tab's streams and for events the socket pushes for other tabs' generations.
import { regenerate as postRegenerate, resume as resumeStream, sendMessage, stop } from '/client/index.js';
import { signOutLocally, switchIdentity } from './auth.js';
import { renderChatList } from './chat-list.js';
import { el, uuid } from './dom.js';
import { confirmLocalMessage, refreshMessages, removeMessage, renderChatTitle, renderMessage, upsertMessage } from './messages.js';
import { clearNotice, showError } from './notices.js';
import { emitAck } from './socket.js';
import { identityHeaders, state } from './state.js';
import { renderUsage } from './usage.js';

// Every stream of this tab asks the server to keep generating if the connection drops, so that
// the typed client's reconnection (GET .../stream with Last-Event-ID) finds the answer still
// growing, and a reload picks it up; Stop is what ends an answer early.
const STREAM_OPTIONS = { headers: identityHeaders, keepGenerating: true };

export function applyGeneration(event, data, via) {
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
    case 'message_sources': {
      // The passages the answer is given, before its first word: shown under it.
      if (live && here) upsertMessage({ id, sources: data.sources });
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

// Follows a generation over GET /messages/:id/stream from its first frame.
export async function resume(messageId, chatId) {
  if (state.live.get(messageId)?.via === 'http' || state.resumed.has(messageId)) return;
  state.resumed.add(messageId);
  state.live.set(messageId, { via: 'http', chatId, content: state.live.get(messageId)?.content ?? '' });
  try {
    for await (const frame of resumeStream('', messageId, undefined, { headers: identityHeaders })) applyGeneration(frame.event, frame.data, 'http');
  } catch {
    // fall back to what is stored
  }
  if (state.live.get(messageId)?.via === 'http') {
    state.live.delete(messageId);
    updateControls();
    if (chatId === state.currentChatId) void refreshMessages();
  }
}

export async function send() {
  const content = el.input.value;
  if (!content.trim() || generatingHere()) return;
  clearNotice();
  const localId = `local-${++state.localSeq}`;
  upsertMessage({ id: localId, role: 'user', content, status: 'complete' });
  el.input.value = '';
  const body = { content, client_message_id: uuid() };
  if (state.currentChatId) body.chat_id = state.currentChatId;
  // A new chat belongs to the chosen project (an existing one keeps its own).
  else if (state.projectId) body.project_id = state.projectId;
  if (el.model.value) body.model = el.model.value;
  const ok = await follow(body.chat_id, localId, () => sendMessage('', body, STREAM_OPTIONS));
  if (!ok) {
    // Refused before it started: nothing was stored, so give the text back.
    removeMessage(localId);
    if (!el.input.value) el.input.value = content;
  }
}

export async function regenerate() {
  if (!state.currentChatId || generatingHere()) return;
  clearNotice();
  const body = { chat_id: state.currentChatId };
  if (el.model.value) body.model = el.model.value;
  await follow(body.chat_id, null, () => postRegenerate('', body, STREAM_OPTIONS));
}

// Renders an answer frame by frame. Answers false when it was refused before it started.
async function follow(chatId, localId, open) {
  const pending = { chatId: chatId ?? null, messageId: null, stopRequested: false, ended: false };
  state.pending.add(pending);
  updateControls();
  let started = false;
  try {
    for await (const frame of open()) {
      const { event, data } = frame;
      if ((event === 'assistant_typing' || event === 'assistant_regenerating') && !started) {
        started = true;
        pending.messageId = data.message_id;
        if (!state.currentChatId && !pending.chatId) adoptNewChat(data.chat_id);
        pending.chatId = data.chat_id;
        if (pending.stopRequested) void stopMessage(data.message_id);
      }
      if (event === 'assistant_typing' && localId) confirmLocalMessage(localId, data.user_message_id);
      // The answer is over at its last word: usage_info, still to come, does not hold the controls.
      if (event === 'assistant_complete' || event === 'assistant_regenerated' || event === 'assistant_error') pending.ended = true;
      applyGeneration(event, data, 'http');
    }
    if (!started) return false;
    // The stream ended without a last word: show what was stored.
    if (state.live.get(pending.messageId)?.via === 'http') {
      state.live.delete(pending.messageId);
      void refreshMessages();
    }
    return true;
  } catch (error) {
    if (!started) {
      // A refusal (the server's code), or the server could not be reached.
      if (error.code === 'UNAUTHORIZED' && state.token) {
        signOutLocally();
        switchIdentity({ keepChat: false });
      }
      showError(error);
      return false;
    }
    // The connection broke mid-answer and could not be picked up again: show what was stored.
    if (pending.messageId && state.live.get(pending.messageId)?.via === 'http') {
      state.live.delete(pending.messageId);
      showError(error);
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

export function generatingHere() {
  return liveHere().length > 0 || [...state.pending].some((p) => !p.ended && p.chatId === state.currentChatId);
}

export async function stopGeneration() {
  const ids = liveHere();
  for (const p of state.pending) if (!p.messageId && p.chatId === state.currentChatId) p.stopRequested = true;
  await Promise.all(ids.map(stopMessage));
}

async function stopMessage(messageId) {
  try {
    await stop('', messageId, { headers: identityHeaders });
  } catch (error) {
    showError(error);
  }
}

export function updateControls() {
  const generating = generatingHere();
  const hasUserMessage = state.order.some((id) => state.view.get(id)?.role === 'user');
  el.send.disabled = generating;
  el.stop.hidden = !generating;
  el.regenerate.disabled = generating || !state.currentChatId || !hasUserMessage;
  el.messages.setAttribute('aria-busy', String(generating));
  if (generating && document.activeElement === el.send) el.input.focus();
}
