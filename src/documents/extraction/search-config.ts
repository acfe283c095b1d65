// The PostgreSQL text search configuration to index a document with, chosen from its own words:
// the language whose common words it uses most, among those every PostgreSQL ships a
// configuration for; `simple` (no stemming, no stop words) when none stands out.
const STOP_WORDS: Record<string, string[]> = {
  english: ['the', 'and', 'of', 'to', 'is', 'in', 'that', 'it', 'was', 'for', 'with', 'as', 'on', 'are', 'this', 'be', 'by', 'which', 'not', 'or', 'have', 'from'],
  german: ['der', 'die', 'und', 'das', 'ist', 'nicht', 'ein', 'eine', 'zu', 'den', 'mit', 'sich', 'des', 'auf', 'für', 'dem', 'auch', 'es', 'wird', 'von', 'im', 'sind'],
  french: ['le', 'la', 'les', 'et', 'des', 'est', 'une', 'du', 'que', 'pour', 'dans', 'qui', 'pas', 'sur', 'au', 'avec', 'il', 'sont', 'ce', 'aux', 'par', 'un'],
  spanish: ['el', 'la', 'los', 'las', 'y', 'que', 'es', 'una', 'del', 'por', 'con', 'para', 'se', 'un', 'su', 'como', 'más', 'pero', 'fue', 'al', 'lo', 'en'],
  italian: ['il', 'di', 'che', 'è', 'e', 'la', 'per', 'un', 'una', 'non', 'sono', 'del', 'della', 'gli', 'le', 'con', 'si', 'nel', 'alla', 'anche', 'più', 'questo'],
  portuguese: ['o', 'a', 'os', 'as', 'de', 'que', 'e', 'do', 'da', 'não', 'um', 'uma', 'para', 'com', 'é', 'em', 'no', 'na', 'se', 'por', 'mais', 'dos'],
  dutch: ['de', 'het', 'een', 'en', 'van', 'is', 'dat', 'niet', 'op', 'te', 'zijn', 'met', 'voor', 'die', 'er', 'ook', 'aan', 'worden', 'wordt', 'bij', 'naar', 'dan'],
  swedish: ['och', 'att', 'det', 'som', 'en', 'är', 'av', 'för', 'med', 'till', 'den', 'har', 'inte', 'på', 'om', 'ett', 'var', 'jag', 'men', 'från', 'kan', 'så'],
  russian: ['и', 'в', 'не', 'на', 'что', 'с', 'по', 'это', 'как', 'он', 'к', 'из', 'для', 'от', 'но', 'то', 'все', 'так', 'его', 'она', 'же', 'был'],
};

export const SEARCH_CONFIGS = [...Object.keys(STOP_WORDS), 'simple'] as const;
export type SearchConfig = (typeof SEARCH_CONFIGS)[number];

const LISTS = Object.entries(STOP_WORDS).map(([config, words]) => ({ config: config as SearchConfig, words: new Set(words) }));

// Below this share of common words, no language is assumed (code, tables, lists of names).
const MIN_SHARE = 0.08;

export function searchConfigFor(text: string): SearchConfig {
  const words = text.slice(0, 50_000).toLowerCase().match(/\p{L}+/gu) ?? [];
  if (words.length < 20) return words.length === 0 ? 'simple' : guess(words, 0.05);
  return guess(words, MIN_SHARE);
}

function guess(words: string[], minShare: number): SearchConfig {
  let best: { config: SearchConfig; hits: number } = { config: 'simple', hits: 0 };
  for (const { config, words: list } of LISTS) {
    let hits = 0;
    for (const word of words) if (list.has(word)) hits++;
    if (hits > best.hits) best = { config, hits };
  }
  return best.hits / words.length >= minShare ? best.config : 'simple';
}
