import type { UsageInfo } from '../../usage/usage-info.js';
import type { UsagePayload } from '../stream-events.js';

// The chunks of the AI SDK's UI message stream (protocol v1) that this backend writes: each is
// one `data: <JSON>` frame, and `data: [DONE]` ends the stream. Declared as classes so that the
// OpenAPI description of POST /api/v1/chat shows them.

// The message metadata this backend adds (merged by the SDK into `message.metadata`).
export class UiMessageMetadata {
  chat_id?: string;
  user_message_id?: string;
  model?: string;
  // A regenerated answer: the answer it replaces.
  replaces?: string | null;
  stop_reason?: string;
  usage?: UsagePayload;
  // The identity's usage after this answer (the send stream's usage_info).
  usage_info?: UsageInfo;
}

export class UiStartChunk {
  type: 'start';
  // The assistant message's id: POST /api/v1/messages/{messageId}/stop stops it.
  messageId: string;
  messageMetadata?: UiMessageMetadata;
}

export class UiStartStepChunk {
  type: 'start-step';
}

export class UiTextStartChunk {
  type: 'text-start';
  id: string;
}

export class UiTextDeltaChunk {
  type: 'text-delta';
  id: string;
  delta: string;
}

export class UiTextEndChunk {
  type: 'text-end';
  id: string;
}

// A document passage the answer draws on (message_sources), cited as [1], [2] in this order.
export class UiSourceDocumentChunk {
  type: 'source-document';
  sourceId: string;
  mediaType: string;
  title: string;
  filename?: string;
  // {chat_backend: {index, document_id, score, content, page?}}
  providerMetadata?: Record<string, Record<string, unknown>>;
}

export class UiFinishStepChunk {
  type: 'finish-step';
}

export class UiFinishChunk {
  type: 'finish';
  finishReason?: 'stop' | 'length' | 'content-filter' | 'error' | 'other';
  messageMetadata?: UiMessageMetadata;
}

export class UiMessageMetadataChunk {
  type: 'message-metadata';
  messageMetadata: UiMessageMetadata;
}

// A failure: errorText starts with the error code ("PROVIDER_OVERLOADED: …").
export class UiErrorChunk {
  type: 'error';
  errorText: string;
}

// A stopped answer (stop route, or the client gone): reason starts with STOPPED.
export class UiAbortChunk {
  type: 'abort';
  reason?: string;
}

export type UiMessageChunk =
  | UiStartChunk
  | UiStartStepChunk
  | UiTextStartChunk
  | UiTextDeltaChunk
  | UiTextEndChunk
  | UiSourceDocumentChunk
  | UiFinishStepChunk
  | UiFinishChunk
  | UiMessageMetadataChunk
  | UiErrorChunk
  | UiAbortChunk;

export const UI_MESSAGE_CHUNKS = [
  UiStartChunk,
  UiStartStepChunk,
  UiTextStartChunk,
  UiTextDeltaChunk,
  UiTextEndChunk,
  UiSourceDocumentChunk,
  UiFinishStepChunk,
  UiFinishChunk,
  UiMessageMetadataChunk,
  UiErrorChunk,
  UiAbortChunk,
];
