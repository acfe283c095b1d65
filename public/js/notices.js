// Notices: one place turns the contract's error codes into words a person can act on. An error
// is the typed client's ChatApiError (HTTP and socket refusals, network failures) or the data of
// an assistant_error frame.
import { el, formatTime, h, numberFormat } from './dom.js';
import { openAuth } from './auth.js';
import { state } from './state.js';
import { regenerate } from './stream.js';

function describeError(error) {
  const code = error.code ?? 'INTERNAL_ERROR';
  const details = error.details ?? error;
  switch (code) {
    case 'ANON_LIMIT_REACHED': {
      const limit = state.usage?.messages_limit;
      const resets = details.resets_at ? ` Or come back after ${formatTime(details.resets_at)}.` : '';
      return {
        text: `You have used all ${limit ? `${limit} ` : ''}free messages. Sign up for free to keep chatting: the chats you have now come with you.${resets}`,
        actions: [
          { label: 'Sign up', primary: true, run: () => openAuth('signup') },
          { label: 'Log in', run: () => openAuth('login') },
        ],
      };
    }
    case 'INSUFFICIENT_BALANCE': {
      const balance = details.credits_balance ?? state.usage?.credits_balance;
      const needed = details.credits_required ? `, this request needs up to ${numberFormat.format(details.credits_required)}` : '';
      return {
        text: `Not enough credits for this request (balance ${balance === undefined ? 'unknown' : numberFormat.format(balance)}${needed}). Try a shorter message or another model.`,
      };
    }
    case 'RATE_LIMITED': {
      const waitMs = error.retryAfterMs ?? details.retry_after_ms;
      const seconds = waitMs ? Math.max(1, Math.ceil(waitMs / 1000)) : undefined;
      return { text: `Too many requests in a short time. ${seconds ? `Wait ${seconds} s` : 'Wait a moment'} and try again.` };
    }
    case 'PROVIDER_OVERLOADED':
      return { text: 'The model is overloaded right now. Try again in a moment.', actions: retryAction() };
    case 'PROVIDER_ERROR':
      return { text: 'The model provider could not answer. Try again, or choose another model.', actions: retryAction() };
    case 'UNKNOWN_MODEL':
      return { text: 'That model is not available. Choose another one.' };
    case 'PAYLOAD_TOO_LARGE': {
      // The identity's documents are at their limit: a smaller file would not help.
      if (details.max_documents !== undefined) {
        const mb = numberFormat.format(Math.floor(details.max_total_bytes / 1024 / 1024 * 10) / 10);
        return { text: `Your documents are at their limit (${numberFormat.format(details.max_documents)} files, ${mb} MB in all). Delete some to upload more.` };
      }
      const max = details.max_bytes;
      return { text: `That file is too large${max ? ` (at most ${numberFormat.format(Math.floor(max / 1024 / 1024 * 10) / 10)} MB)` : ''}. Split it, or upload a smaller one.` };
    }
    case 'UNSUPPORTED_DOCUMENT':
      return { text: 'That file cannot be used: upload a PDF, Markdown, plain text or HTML file.' };
    case 'PROJECT_NOT_FOUND':
      return { text: 'This project no longer exists.' };
    case 'DOCUMENT_NOT_FOUND':
      return { text: 'That document no longer exists.' };
    case 'CHAT_NOT_FOUND':
      return { text: 'This chat no longer exists.' };
    case 'MESSAGE_NOT_FOUND':
      return { text: 'That message no longer exists.' };
    case 'UNAUTHORIZED':
      return { text: 'Your session has ended. Log in again to see your chats.', actions: [{ label: 'Log in', primary: true, run: () => openAuth('login') }] };
    case 'VALIDATION_ERROR':
      return { text: error.error ?? error.message ?? 'The request was not accepted.' };
    case 'NETWORK_ERROR':
    case 'TIMEOUT':
      return { text: 'Could not reach the server. Check the connection and try again.' };
    default: {
      const requestId = error.requestId ?? details.request_id;
      const ref = requestId ? ` (reference ${requestId})` : '';
      return { text: `Something went wrong${ref}. Try again.` };
    }
  }
}

function retryAction() {
  return state.currentChatId ? [{ label: 'Try again', primary: true, run: () => void regenerate() }] : [];
}

export function showError(error) {
  const { text, actions = [] } = describeError(error);
  showNotice(text, { code: error.code, actions });
}

export function showNotice(text, { code = '', tone = 'error', actions = [] } = {}) {
  el.notice.replaceChildren(
    h('p', { className: 'notice-text' }, text),
    ...actions.map((a) => h('button', { type: 'button', className: `button${a.primary ? ' button--primary' : ''}`, onclick: a.run }, a.label)),
    h('button', { type: 'button', className: 'button button--quiet notice-dismiss', 'aria-label': 'Dismiss', onclick: clearNotice }, '×'),
  );
  el.notice.dataset.code = code;
  el.notice.dataset.tone = tone;
  el.notice.hidden = false;
}

export function clearNotice() {
  el.notice.hidden = true;
  el.notice.replaceChildren();
  delete el.notice.dataset.code;
}
