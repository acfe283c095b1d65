// The chat list in the sidebar: newest first, rename in place, delete once confirmed.
import { el, formatTime, h } from './dom.js';
import { openChat } from './messages.js';
import { showError } from './notices.js';
import { emitAck } from './socket.js';
import { CHATS_PAGE_SIZE, state } from './state.js';

function sortedChats() {
  return [...state.chats.values()].sort((a, b) => (b.updated_at ?? '').localeCompare(a.updated_at ?? '') || b.id.localeCompare(a.id));
}

export function chatTitle(chat) {
  return chat?.title?.trim() || 'Untitled chat';
}

export function renderChatList() {
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

export function loadMoreChats() {
  emitAck('list_chats', { page: state.chatsPage + 1, limit: CHATS_PAGE_SIZE }).catch(showError);
}
