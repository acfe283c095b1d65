import type { ScoredPassage } from './search-scope.js';

// Reciprocal rank fusion (Cormack et al., 2009): each ranking gives a passage 1 / (k + rank);
// the sums decide. It needs no calibration between rankings whose scores mean different
// things (BM25-like weights, cosine similarities). k = 60 as in the paper.
export function reciprocalRankFusion(rankings: ScoredPassage[][], limit: number, k = 60): ScoredPassage[] {
  const fused = new Map<string, { passage: ScoredPassage; score: number; best: number }>();
  for (const ranking of rankings) {
    ranking.forEach((passage, index) => {
      const entry = fused.get(passage.id) ?? { passage, score: 0, best: Infinity };
      entry.score += 1 / (k + index + 1);
      entry.best = Math.min(entry.best, index);
      fused.set(passage.id, entry);
    });
  }
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || a.best - b.best || a.passage.id.localeCompare(b.passage.id))
    .slice(0, limit)
    .map(({ passage, score }) => ({ ...passage, score }));
}
