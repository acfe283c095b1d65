import { ChatApiError, errorFromResponse } from './errors.js';
import { call, headersOf, url, type RequestOptions } from './messages.js';
import type { DocumentView, ProjectView } from './types.js';

// Projects and documents over REST: the project picker's list, uploads (with upload progress
// in browsers, through XMLHttpRequest), the document list and deletion. What happens to an
// upload afterwards arrives on the /chats socket as document_status.

async function json<T>(response: Response): Promise<T> {
  if (!response.ok) throw await errorFromResponse(response);
  return (await response.json()) as T;
}

const jsonInit = (method: string, body: unknown, options: RequestOptions): RequestInit => {
  const headers = new Headers(headersOf(options));
  headers.set('content-type', 'application/json');
  return { method, headers, body: JSON.stringify(body) };
};

export async function listProjects(baseUrl: string, options: RequestOptions = {}): Promise<{ projects: ProjectView[] }> {
  return json(await call(options, url(baseUrl, '/api/v1/projects'), { method: 'GET' }));
}

export async function createProject(baseUrl: string, name: string, options: RequestOptions = {}): Promise<{ project: ProjectView }> {
  return json(await call(options, url(baseUrl, '/api/v1/projects'), jsonInit('POST', { name }, options)));
}

export async function renameProject(baseUrl: string, projectId: string, name: string, options: RequestOptions = {}): Promise<{ project: ProjectView }> {
  return json(await call(options, url(baseUrl, `/api/v1/projects/${encodeURIComponent(projectId)}`), jsonInit('PATCH', { name }, options)));
}

// The identity's documents: of one project, or all of them.
export async function listDocuments(baseUrl: string, filter: { projectId?: string } = {}, options: RequestOptions = {}): Promise<{ documents: DocumentView[] }> {
  const query = filter.projectId ? `?project_id=${encodeURIComponent(filter.projectId)}` : '';
  return json(await call(options, url(baseUrl, `/api/v1/documents${query}`), { method: 'GET' }));
}

export async function deleteDocument(baseUrl: string, documentId: string, options: RequestOptions = {}): Promise<void> {
  const response = await call(options, url(baseUrl, `/api/v1/documents/${encodeURIComponent(documentId)}`), { method: 'DELETE' });
  if (!response.ok) throw await errorFromResponse(response);
}

export interface UploadOptions extends RequestOptions {
  projectId?: string;
  // The name to store (default: the File's own name).
  filename?: string;
  // Bytes sent so far of the request (browsers only: the upload goes through XMLHttpRequest).
  onUploadProgress?: (sent: number, total: number) => void;
}

// POST /api/v1/documents (multipart/form-data). Resolves with the stored document, "processing";
// refusals (PAYLOAD_TOO_LARGE, UNSUPPORTED_DOCUMENT, PROJECT_NOT_FOUND, …) reject with their
// ChatApiError.
export async function uploadDocument(baseUrl: string, file: Blob, options: UploadOptions = {}): Promise<{ document: DocumentView }> {
  const form = new FormData();
  if (options.projectId) form.append('project_id', options.projectId);
  form.append('file', file, options.filename ?? (file as Blob & { name?: string }).name ?? 'document');
  const target = url(baseUrl, '/api/v1/documents');
  const Xhr = (globalThis as { XMLHttpRequest?: new () => UploadRequest }).XMLHttpRequest;
  if (options.onUploadProgress && Xhr) return json(await xhrPost(new Xhr(), target, form, options));
  return json(await call(options, target, { method: 'POST', body: form }));
}

// fetch cannot tell how much of a request body has gone; XMLHttpRequest can. Its answer is
// turned into a Response, so that refusals are read as everywhere else.
// The part of XMLHttpRequest used here, declared so that the client also compiles without the DOM library.
interface UploadRequest {
  open(method: string, url: string): void;
  setRequestHeader(name: string, value: string): void;
  getAllResponseHeaders(): string;
  send(body: FormData): void;
  abort(): void;
  responseType: string;
  readonly status: number;
  readonly response: unknown;
  readonly upload: { onprogress: ((event: { loaded: number; total: number; lengthComputable: boolean }) => void) | null };
  onload: (() => void) | null;
  onerror: (() => void) | null;
  ontimeout: (() => void) | null;
}

function xhrPost(xhr: UploadRequest, target: string, body: FormData, options: UploadOptions): Promise<Response> {
  return new Promise((resolve, reject) => {
    xhr.open('POST', target);
    new Headers(headersOf(options)).forEach((value, name) => xhr.setRequestHeader(name, value));
    xhr.responseType = 'arraybuffer';
    xhr.upload.onprogress = (e) => options.onUploadProgress?.(e.loaded, e.lengthComputable ? e.total : 0);
    xhr.onload = () => {
      const headers = new Headers();
      for (const line of xhr.getAllResponseHeaders().trim().split(/[\r\n]+/)) {
        const at = line.indexOf(':');
        if (at > 0) headers.append(line.slice(0, at).trim(), line.slice(at + 1).trim());
      }
      resolve(new Response(xhr.status === 204 ? null : (xhr.response as ArrayBuffer), { status: xhr.status, headers }));
    };
    xhr.onerror = () => reject(new ChatApiError({ code: 'NETWORK_ERROR', message: 'The upload could not reach the server', retryable: true }));
    xhr.ontimeout = () => reject(new ChatApiError({ code: 'TIMEOUT', message: 'The upload timed out', retryable: true }));
    const { signal } = options;
    if (signal) {
      if (signal.aborted) xhr.abort();
      signal.addEventListener('abort', () => {
        xhr.abort();
        reject(new ChatApiError({ code: 'NETWORK_ERROR', message: 'The upload was cancelled', cause: signal.reason }));
      }, { once: true });
    }
    xhr.send(body);
  });
}
