import type { JsonResponse } from './http.js';

// Uploads a file as a browser's FormData does (multipart/form-data, a `file` part and an
// optional `project_id`).
export async function uploadDocument(
  baseUrl: string,
  headers: Record<string, string>,
  file: { name: string; content: string | Uint8Array; type?: string },
  projectId?: string,
): Promise<JsonResponse<Record<string, any>>> {
  const form = new FormData();
  const data = typeof file.content === 'string' ? new TextEncoder().encode(file.content) : file.content;
  form.append('file', new Blob([data as Uint8Array<ArrayBuffer>], { type: file.type ?? 'application/octet-stream' }), file.name);
  if (projectId) form.append('project_id', projectId);
  const res = await fetch(`${baseUrl}/api/v1/documents`, { method: 'POST', headers, body: form });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : undefined, headers: res.headers };
}

// Polls the listing until the document is ready or failed.
export async function documentSettled(baseUrl: string, headers: Record<string, string>, documentId: string, timeoutMs = 15_000): Promise<Record<string, any>> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await fetch(`${baseUrl}/api/v1/documents`, { headers });
    const { documents } = (await res.json()) as { documents: Record<string, any>[] };
    const doc = documents.find((d) => d.id === documentId);
    if (doc && doc.status !== 'processing') return doc;
    if (Date.now() > until) throw new Error(`document ${documentId} still ${doc?.status ?? 'missing'} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

// A Markdown handbook of many sections with one fact deep inside it (about 3/4 of the way in),
// and nothing else that shares its rare words.
export const HANDBOOK_FACT = 'The lighthouse keeper on Skerry Island is named Oswin Tarrant, and he rings the fog bell at dawn.';

export function handbookMarkdown(): string {
  const parts = ['# Weather station handbook', '', 'This handbook describes the routines of the northern weather station and its instruments.'];
  for (let i = 1; i <= 40; i++) {
    parts.push(`## Routine ${i}`, '');
    parts.push(`Routine ${i} covers calibrating sensor ${i}, logging its readings every ten minutes and checking the batteries. ` +
      `Technicians record the outcome in the station journal, with the date and their initials. ` +
      `If sensor ${i} drifts by more than two percent, it is replaced from the spare parts store.`, '');
    if (i === 30) parts.push('## People on the coast', '', HANDBOOK_FACT, '');
  }
  return parts.join('\n');
}

// A manual as a PDF: three pages, the fact on page 2.
export const MANUAL_FACT = 'The coolant pump must be primed with forty litres of glycol before the first winter start.';
export const MANUAL_PAGES = [
  ['Pump station manual.', 'This manual explains how the pump station is run through the year.', 'Read every page before operating the station.'],
  ['Winter operation.', MANUAL_FACT, 'Check the pressure gauge twice a day while it runs.'],
  ['Summer operation.', 'In summer the station runs on the small pump alone.', 'Clean the intake filters every week.'],
];
