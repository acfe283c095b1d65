// Projects and documents: the project picker (new chats answer from the chosen project's
// documents; with none chosen, from the documents outside any project), uploads with their
// progress (the bytes sent, through XMLHttpRequest, then the server's document_status pushes), and
// the list of documents with their status.
import { createProject, deleteDocument, listDocuments, listProjects, uploadDocument } from '/client/index.js';
import { el, h, numberFormat, storage } from './dom.js';
import { startNewChat } from './messages.js';
import { showError, showNotice } from './notices.js';
import { emitAck } from './socket.js';
import { identityHeaders, state, STORAGE_KEYS } from './state.js';

const OPTIONS = { headers: identityHeaders };

export function wireDocuments() {
  el.projectSelect.addEventListener('change', () => void selectProject(el.projectSelect.value, { newChat: true }));
  el.newProject.addEventListener('click', () => {
    el.projectForm.hidden = false;
    el.projectName.value = '';
    el.projectName.focus();
  });
  el.projectCancel.addEventListener('click', closeProjectForm);
  el.projectForm.addEventListener('keydown', (e) => {
    if (e.key === 'Escape') {
      e.preventDefault();
      closeProjectForm();
    }
  });
  el.projectForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void submitProject();
  });
  el.uploadButton.addEventListener('click', () => el.uploadInput.click());
  el.uploadInput.addEventListener('change', () => {
    const files = [...el.uploadInput.files];
    el.uploadInput.value = '';
    void uploadAll(files);
  });
}

function closeProjectForm() {
  el.projectForm.hidden = true;
  el.newProject.focus();
}

async function submitProject() {
  const name = el.projectName.value.trim();
  if (!name) return el.projectName.focus();
  try {
    const { project } = await createProject('', name, OPTIONS);
    state.projects.set(project.id, project);
    el.projectForm.hidden = true;
    await selectProject(project.id, { newChat: true });
    el.projectSelect.focus();
  } catch (error) {
    showError(error);
  }
}

// On every connection (and identity): the projects, then the chosen one's room and documents.
export async function loadProjects() {
  try {
    const { projects } = await listProjects('', OPTIONS);
    state.projects = new Map(projects.map((p) => [p.id, p]));
  } catch (error) {
    showError(error);
    return;
  }
  const saved = state.projectId || storage.get(STORAGE_KEYS.project);
  state.joinedProject = ''; // a new connection is in no room yet
  delete el.documentList.dataset.loaded; // and may be another identity's: the list is read again
  await selectProject(state.projects.has(saved) ? saved : '', { newChat: false });
}

export function renderProjects() {
  const options = [h('option', { value: '' }, 'No project'), ...[...state.projects.values()].map((p) => h('option', { value: p.id }, p.name))];
  el.projectSelect.replaceChildren(...options);
  el.projectSelect.value = state.projectId;
}

// Chooses where new chats search. newChat: the open chat belongs elsewhere, so a new one starts.
export async function selectProject(projectId, { newChat = false } = {}) {
  const id = state.projects.has(projectId) ? projectId : '';
  const changed = id !== state.projectId;
  state.projectId = id;
  storage.set(STORAGE_KEYS.project, id);
  renderProjects();
  if (newChat && state.currentChatId && (state.chats.get(state.currentChatId)?.project_id ?? '') !== id) startNewChat();
  if (state.joinedProject && state.joinedProject !== id) emitAck('leave_project', { project_id: state.joinedProject }).catch(() => undefined);
  if (id && state.joinedProject !== id) {
    state.joinedProject = id;
    emitAck('join_project', { project_id: id }).catch((error) => {
      if (state.joinedProject === id) state.joinedProject = '';
      if (error.code === 'PROJECT_NOT_FOUND') forgetProject(id);
    });
  } else if (!id) {
    state.joinedProject = '';
  }
  if (changed || !el.documentList.dataset.loaded) await loadDocuments();
}

function forgetProject(id) {
  state.projects.delete(id);
  if (state.projectId === id) void selectProject('', { newChat: true });
  else renderProjects();
}

export async function loadDocuments() {
  const projectId = state.projectId;
  try {
    const { documents } = await listDocuments('', projectId ? { projectId } : {}, OPTIONS);
    if (state.projectId !== projectId) return;
    // Without a project: the documents outside any project, which is what those chats search.
    // The list may have left the server before pushes that reached this tab: keep the furthest.
    state.documents = new Map(
      documents
        .filter((d) => (d.project_id ?? '') === projectId)
        .map((d) => {
          const pushed = early.get(d.id);
          early.delete(d.id);
          return [d.id, furthest(furthest(d, state.documents.get(d.id)), pushed && withStatus(d, pushed))];
        }),
    );
    el.documentList.dataset.loaded = 'true';
    renderDocuments();
  } catch (error) {
    if (error.code === 'PROJECT_NOT_FOUND') return forgetProject(projectId);
    showError(error);
  }
}

function statusText(doc) {
  if (doc.status === 'processing') return `Processing ${doc.progress ?? 0}%`;
  if (doc.status === 'ready') return `Ready · ${numberFormat.format(doc.chunk_count)} ${doc.chunk_count === 1 ? 'passage' : 'passages'}`;
  return doc.error ? `Failed: ${doc.error}` : 'Failed';
}

export function renderDocuments() {
  const docs = [...state.documents.values()].sort((a, b) => (b.created_at ?? '').localeCompare(a.created_at ?? ''));
  el.documentList.replaceChildren(
    ...docs.map((doc) =>
      h('li', { className: `document-item document-item--${doc.status}`, dataset: { documentId: doc.id, status: doc.status } },
        h('span', { className: 'document-name', title: doc.filename }, doc.filename),
        h('span', { className: 'document-status muted' }, statusText(doc)),
        doc.status === 'processing' ? h('progress', { className: 'document-progress', max: 100, value: doc.progress ?? 0, 'aria-label': `${doc.filename}: processing` }) : null,
        h('button', { type: 'button', className: 'button button--quiet button--small button--danger-text document-delete', 'aria-label': `Delete ${doc.filename}`, onclick: () => void removeDocument(doc.id) }, 'Delete'),
      ),
    ),
  );
  el.documentListEmpty.hidden = docs.length > 0;
}

async function removeDocument(id) {
  const doc = state.documents.get(id);
  if (!doc || !window.confirm(`Delete “${doc.filename}”? Answers will no longer use it.`)) return;
  try {
    await deleteDocument('', id, OPTIONS);
    state.documents.delete(id);
    renderDocuments();
  } catch (error) {
    if (error.code === 'DOCUMENT_NOT_FOUND') {
      state.documents.delete(id);
      renderDocuments();
    }
    showError(error);
  }
}

async function uploadAll(files) {
  for (const file of files) if (!(await uploadOne(file))) break;
}

// One file: its bytes (the bar follows XMLHttpRequest's upload progress), then its processing
// (the bar follows document_status) until it is ready or failed.
async function uploadOne(file) {
  const projectId = state.projectId;
  state.upload = { name: file.name, phase: 'uploading', percent: 0, documentId: null };
  renderUpload();
  el.uploadButton.disabled = true;
  try {
    const { document } = await uploadDocument('', file, {
      ...OPTIONS,
      projectId: projectId || undefined,
      onUploadProgress: (sent, total) => {
        if (!state.upload || state.upload.phase !== 'uploading') return;
        state.upload.percent = total ? Math.round((100 * sent) / total) : 0;
        renderUpload();
      },
    });
    // Pushes may have come before this answer (a small file is processed at once): keep the newest.
    const pushed = early.get(document.id);
    early.delete(document.id);
    const answered = pushed ? withStatus(document, pushed) : document;
    const known = state.documents.get(document.id);
    if (state.projectId === projectId) state.documents.set(document.id, furthest(answered, known));
    if (pushed?.status === 'failed') showFailed(file.name, pushed);
    renderDocuments();
    const current = state.documents.get(document.id) ?? answered;
    if (current.status === 'processing') {
      state.upload = { name: file.name, phase: 'processing', percent: current.progress ?? 0, documentId: document.id };
    } else {
      state.upload = null;
    }
    renderUpload();
    return true;
  } catch (error) {
    state.upload = null;
    renderUpload();
    showError(error);
    return false;
  } finally {
    el.uploadButton.disabled = false;
  }
}

function showFailed(name, status) {
  showNotice(`“${name}” could not be used: ${status.error ?? 'it could not be read'}.`);
}

function renderUpload() {
  const upload = state.upload;
  el.uploadStatus.hidden = !upload;
  if (!upload) return;
  el.uploadStatus.dataset.phase = upload.phase;
  el.uploadLabel.textContent = `${upload.phase === 'uploading' ? 'Uploading' : 'Processing'} ${upload.name}… ${upload.percent}%`;
  el.uploadProgress.value = upload.percent;
}

// The last status pushed for a document this page does not know yet: its upload's answer may
// still be on the way. A few are kept, the oldest dropped first.
const early = new Map();

// Processing only moves forward: ready or failed beats processing, more progress beats less; a
// tie keeps the first (the fresher copy, when the caller passes that first).
function furthest(a, b) {
  if (!a || !b) return a ?? b;
  const stage = (d) => (d.status === 'processing' ? (d.progress ?? 0) : 101);
  return stage(b) > stage(a) ? b : a;
}

function withStatus(doc, status) {
  return { ...doc, status: status.status, progress: status.progress, ...(status.chunk_count !== undefined ? { chunk_count: status.chunk_count } : {}), ...(status.error ? { error: status.error } : {}) };
}

// document_status, for the owner's documents and the room's.
export function applyDocumentStatus(status) {
  const doc = state.documents.get(status.document_id);
  if ((status.project_id ?? '') === state.projectId) {
    if (doc) {
      state.documents.set(doc.id, withStatus(doc, status));
      renderDocuments();
    } else {
      early.delete(status.document_id);
      early.set(status.document_id, status);
      if (early.size > 50) early.delete(early.keys().next().value);
      // A document uploaded elsewhere (another tab): the list brings it with all its fields.
      if (status.status === 'processing' && status.progress === 0) void loadDocuments();
    }
  }
  const upload = state.upload;
  if (upload?.documentId === status.document_id) {
    if (status.status === 'processing') {
      upload.percent = Math.max(upload.percent, status.progress);
    } else {
      state.upload = null;
      if (status.status === 'failed') showFailed(upload.name, status);
    }
    renderUpload();
  }
}

// project_updated, for the room this tab is in.
export function applyProjectUpdate(update) {
  if (update.type === 'renamed') {
    state.projects.set(update.project_id, update.data.project);
    renderProjects();
    return;
  }
  if (update.project_id !== state.projectId) return;
  if (update.type === 'document_added' && !state.documents.has(update.data.document.id)) state.documents.set(update.data.document.id, update.data.document);
  if (update.type === 'document_deleted') state.documents.delete(update.data.document_id);
  renderDocuments();
}
