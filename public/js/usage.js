// The quota or credits in the top bar, and the model list.
import { el, formatTime, h, numberFormat, storage } from './dom.js';
import { state, STORAGE_KEYS } from './state.js';

export function renderUsage(usage) {
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

export async function loadModels() {
  try {
    const res = await fetch('/api/v1/models');
    if (!res.ok) throw new Error(String(res.status));
    const { models } = await res.json();
    const saved = storage.get(STORAGE_KEYS.model);
    const chosen = models.find((m) => m.id === saved) ?? models.find((m) => m.default) ?? models[0];
    el.model.replaceChildren(...models.map((m) => h('option', { value: m.id }, m.default ? `${m.id} (default)` : m.id)));
    if (chosen) el.model.value = chosen.id;
    el.model.disabled = models.length < 2;
  } catch {
    el.model.replaceChildren(h('option', { value: '' }, 'Default model'));
  }
}
