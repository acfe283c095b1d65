import type { UsageInfo } from '../usage/usage-info.js';

// The generation events, declared once: the SSE writer, the socket gateway and the web client
// all use these names and payloads.
export interface UsagePayload {
  input_tokens: number;
  output_tokens: number;
}

export interface AssistantTyping {
  chat_id: string;
  user_message_id: string;
  message_id: string;
  model: string;
}

export interface AssistantRegenerating {
  chat_id: string;
  message_id: string;
  replaces: string | null;
}

export interface AssistantDelta {
  chat_id: string;
  message_id: string;
  delta: string;
}

export interface AssistantComplete {
  chat_id: string;
  message_id: string;
  content: string;
  model: string;
  stop_reason: string;
  usage: UsagePayload;
  created_at: string;
}

export interface AssistantError {
  chat_id?: string;
  message_id?: string;
  code: string;
  error: string;
  retryable: boolean;
}

export interface GenerationEventMap {
  assistant_typing: AssistantTyping;
  assistant_regenerating: AssistantRegenerating;
  assistant_delta: AssistantDelta;
  assistant_complete: AssistantComplete;
  assistant_regenerated: AssistantComplete;
  assistant_error: AssistantError;
  usage_info: UsageInfo;
}

export type GenerationEventName = keyof GenerationEventMap;

// One frame of a generation: `id` is "<assistant message id>:<seq>", seq counting from 1.
export type GenerationEvent = {
  [K in GenerationEventName]: { id: string; event: K; data: GenerationEventMap[K] };
}[GenerationEventName];

