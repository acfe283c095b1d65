import type { ErrorCode } from '../common/errors/error-code.js';
import { UsageInfo } from '../usage/usage-info.js';

// The generation events, declared once: the SSE writer, the socket gateway and the web client
// all use these names and payloads. Payloads are classes so that they exist at run time: the
// OpenAPI and AsyncAPI descriptions are generated from GENERATION_EVENTS below, and the types
// are derived from it, so the description cannot drift from what is sent.
export class UsagePayload {
  input_tokens: number;
  output_tokens: number;
}

export class AssistantTyping {
  chat_id: string;
  user_message_id: string;
  message_id: string;
  model: string;
}

export class AssistantRegenerating {
  chat_id: string;
  message_id: string;
  replaces: string | null;
}

export class AssistantDelta {
  chat_id: string;
  message_id: string;
  delta: string;
}

export class AssistantComplete {
  chat_id: string;
  message_id: string;
  content: string;
  model: string;
  stop_reason: string;
  usage: UsagePayload;
  created_at: string;
}

export class AssistantError {
  chat_id?: string;
  message_id?: string;
  code: `${ErrorCode}`;
  error: string;
  retryable: boolean;
}

export class MessageSourceMetadata {
  // The PDF page (1-based).
  page?: number;
  // The section the passage sits under.
  heading?: string;
  // The passage's place in its document.
  ordinal?: number;
}

// A passage an answer was given: numbered by its place in `sources` ([1] is the first).
export class MessageSource {
  // The passage's id.
  id: string;
  document_id: string;
  filename: string;
  content: string;
  // Higher is more relevant; comparable within one answer's sources only.
  score: number;
  metadata: MessageSourceMetadata;
}

export class MessageSources {
  chat_id: string;
  message_id: string;
  sources: MessageSource[];
}

// Every generation event with its payload's class.
export const GENERATION_EVENTS = {
  assistant_typing: AssistantTyping,
  // After assistant_typing and before the first delta, when documents were searched.
  message_sources: MessageSources,
  assistant_regenerating: AssistantRegenerating,
  assistant_delta: AssistantDelta,
  assistant_complete: AssistantComplete,
  assistant_regenerated: AssistantComplete,
  assistant_error: AssistantError,
  usage_info: UsageInfo,
} as const;

export type GenerationEventMap = { [K in keyof typeof GENERATION_EVENTS]: InstanceType<(typeof GENERATION_EVENTS)[K]> };

export type GenerationEventName = keyof GenerationEventMap;

// One frame of a generation: `id` is "<assistant message id>:<seq>", seq counting from 1.
export type GenerationEvent = {
  [K in GenerationEventName]: { id: string; event: K; data: GenerationEventMap[K] };
}[GenerationEventName];

