import type { ChatTurn } from './llm.types.js';
import { estimateTokens } from './tokens.js';

// Role markers and separators cost a few tokens per message.
const TOKENS_PER_TURN = 4;

// The newest turns that fit in `budgetTokens`, oldest first, ready to send:
// - ends with the last user turn, which is always kept (even alone over budget); turns after it are cut;
// - older turns are dropped oldest first, and never from the middle (the kept part is contiguous);
// - empty turns (e.g. an answer stopped before its first token) are skipped, as Anthropic refuses them;
// - starts with a user turn, as Anthropic requires.
// No user turn at all gives [].
export function buildHistory(turns: ChatTurn[], budgetTokens: number): ChatTurn[] {
  const last = turns.findLastIndex((turn) => turn.role === 'user');
  if (last < 0) return [];
  const kept: ChatTurn[] = [turns[last]];
  let used = cost(turns[last]);
  for (let i = last - 1; i >= 0; i--) {
    const turn = turns[i];
    if (turn.content.trim() === '') continue;
    used += cost(turn);
    if (used > budgetTokens) break;
    kept.push(turn);
  }
  kept.reverse();
  const firstUser = kept.findIndex((turn) => turn.role === 'user');
  return kept.slice(firstUser);
}

function cost(turn: ChatTurn): number {
  return estimateTokens(turn.content) + TOKENS_PER_TURN;
}
