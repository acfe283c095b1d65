import { cleanLine, type TextBlock } from './blocks.js';

// Paragraphs (runs of lines between blank lines), line by line, yielding every few thousand
// lines (see cooperative.ts).
export function* plainTextSteps(text: string): Generator<void, TextBlock[], undefined> {
  const blocks: TextBlock[] = [];
  let current: string[] = [];
  const flush = () => {
    const paragraph = current.join('\n').trim();
    if (paragraph) blocks.push({ text: paragraph });
    current = [];
  };
  const lines = text.split(/\r\n?|\n/);
  for (let i = 0; i < lines.length; i++) {
    if (i % 2048 === 2047) yield;
    const line = cleanLine(lines[i]);
    if (line.trim() === '') flush();
    else current.push(line);
  }
  flush();
  return blocks;
}
