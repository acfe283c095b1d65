import type { Response } from 'express';
import { ErrorCode } from '../../common/errors/error-code.js';
import { SseWriter, type SseWriterOptions } from '../../common/sse/sse-writer.js';
import type { FrameSink } from '../follow-generation.js';
import type { AssistantComplete, AssistantError, GenerationEvent, MessageSources } from '../stream-events.js';
import type { UiFinishChunk, UiMessageChunk, UiMessageMetadata, UiSourceDocumentChunk } from './ui-message-chunks.dto.js';

// What the AI SDK checks to know it reads its own protocol (UI_MESSAGE_STREAM_HEADERS in `ai`).
export const UI_MESSAGE_STREAM_HEADERS = { 'x-vercel-ai-ui-message-stream': 'v1' };

// The answer has one text part; its id only has to be unique within the message.
const TEXT_ID = 'text-0';

// Turns one generation's frames, in order, into the SDK's chunks: `start` (messageId = the
// assistant message id), `start-step`, `text-start`, `text-delta`…, `text-end`, `finish-step`,
// `finish`. The closing chunk waits for usage_info (the last frame), so that it carries the
// identity's usage as message metadata. A failure is an `error` chunk whose text starts with
// the code; a stopped answer an `abort` chunk, as the SDK's own streamText ends one.
export class UiMessageStreamMapper {
  private started = false;
  private textOpen = false;
  private closing?: UiMessageChunk[];
  private closed = false;

  constructor(private readonly messageId: string) {}

  map(frame: GenerationEvent): UiMessageChunk[] {
    if (this.closed) return [];
    const out: UiMessageChunk[] = [];
    switch (frame.event) {
      case 'assistant_regenerating':
        this.start(out, { chat_id: frame.data.chat_id, replaces: frame.data.replaces });
        break;
      case 'assistant_typing':
        this.start(out, { chat_id: frame.data.chat_id, user_message_id: frame.data.user_message_id, model: frame.data.model });
        break;
      case 'assistant_delta':
        this.start(out);
        if (!this.textOpen) {
          this.textOpen = true;
          out.push({ type: 'text-start', id: TEXT_ID });
        }
        out.push({ type: 'text-delta', id: TEXT_ID, delta: frame.data.delta });
        break;
      case 'assistant_complete':
      case 'assistant_regenerated':
        this.endStep(out);
        this.closing = [finishOf(frame.data)];
        break;
      case 'assistant_error':
        this.endStep(out);
        this.closing = failureOf(frame.data);
        break;
      case 'message_sources':
        this.start(out);
        out.push(...sourceChunks(frame.data));
        break;
      case 'usage_info':
        // The last frame: the closing chunks go out with the usage.
        out.push(...this.close({ usage_info: frame.data }));
        break;
      default:
        // A generation event this mapping does not know fails the type check here.
        frame satisfies never;
    }
    return out;
  }

  // The stream has ended: whatever has not been closed is.
  end(): UiMessageChunk[] {
    if (this.closed) return [];
    const out: UiMessageChunk[] = [];
    if (!this.closing) {
      // The log ended without a last word (the generation's process died).
      this.endStep(out);
      this.closing = failureOf({ code: ErrorCode.INTERNAL_ERROR, error: 'The generation ended without finishing' });
    }
    out.push(...this.close());
    return out;
  }

  private start(out: UiMessageChunk[], metadata?: UiMessageMetadata): void {
    if (this.started) return;
    this.started = true;
    out.push({ type: 'start', messageId: this.messageId, ...(metadata ? { messageMetadata: metadata } : {}) }, { type: 'start-step' });
  }

  private endStep(out: UiMessageChunk[]): void {
    this.start(out);
    if (this.textOpen) {
      this.textOpen = false;
      out.push({ type: 'text-end', id: TEXT_ID });
    }
    out.push({ type: 'finish-step' });
  }

  private close(metadata?: UiMessageMetadata): UiMessageChunk[] {
    if (!this.closing) return [];
    this.closed = true;
    if (!metadata) return this.closing;
    return this.closing.flatMap((chunk): UiMessageChunk[] => {
      if (chunk.type === 'finish') return [{ ...chunk, messageMetadata: { ...chunk.messageMetadata, ...metadata } }];
      if (chunk.type === 'abort') return [{ type: 'message-metadata', messageMetadata: metadata }, chunk];
      return [chunk];
    });
  }
}

function finishOf(data: AssistantComplete): UiFinishChunk {
  return {
    type: 'finish',
    finishReason: FINISH_REASONS[data.stop_reason] ?? 'other',
    messageMetadata: { model: data.model, stop_reason: data.stop_reason, usage: data.usage },
  };
}

function failureOf(data: Pick<AssistantError, 'code' | 'error'>): UiMessageChunk[] {
  const text = `${data.code}: ${data.error}`;
  if (data.code === ErrorCode.STOPPED) return [{ type: 'abort', reason: text }];
  return [
    { type: 'error', errorText: text },
    { type: 'finish', finishReason: 'error' },
  ];
}

// Anthropic's and the OpenAI-compatible providers' stop reasons, as the SDK names them.
const FINISH_REASONS: Record<string, UiFinishChunk['finishReason']> = {
  end_turn: 'stop',
  stop_sequence: 'stop',
  stop: 'stop',
  max_tokens: 'length',
  length: 'length',
  refusal: 'content-filter',
  content_filter: 'content-filter',
};

// message_sources → one source-document chunk per source, in the order the model cites them.
// The message_sources frame (contract: "The send stream"), as source-document chunks.
export function sourceChunks(data: MessageSources): UiSourceDocumentChunk[] {
  return data.sources.map((source, index) => ({
    type: 'source-document',
    sourceId: source.id,
    mediaType: mediaTypeOf(source.filename),
    title: source.metadata?.page !== undefined ? `${source.filename} (p. ${source.metadata.page})` : source.filename,
    filename: source.filename,
    providerMetadata: {
      chat_backend: {
        index: index + 1,
        document_id: source.document_id,
        score: source.score,
        content: source.content,
        ...(source.metadata?.page !== undefined ? { page: source.metadata.page } : {}),
        ...(source.metadata?.heading !== undefined ? { heading: source.metadata.heading } : {}),
      },
    },
  }));
}

function mediaTypeOf(filename: string): string {
  const ext = filename.slice(filename.lastIndexOf('.') + 1).toLowerCase();
  return MEDIA_TYPES[ext] ?? 'text/plain';
}

const MEDIA_TYPES: Record<string, string> = { pdf: 'application/pdf', md: 'text/markdown', markdown: 'text/markdown', html: 'text/html', htm: 'text/html', txt: 'text/plain' };

// The UI message stream over SSE: `data: <chunk JSON>` frames, `data: [DONE]` at the end, the
// same pings and slow-reader limit as the send stream.
export function uiMessageStreamSink(res: Response, messageId: string, options: SseWriterOptions): FrameSink {
  const writer = new SseWriter(res, options);
  const mapper = new UiMessageStreamMapper(messageId);
  const write = (chunks: UiMessageChunk[]) => {
    for (const chunk of chunks) writer.sendData(JSON.stringify(chunk));
  };
  return {
    open: () => writer.open(200, UI_MESSAGE_STREAM_HEADERS),
    send: (frame) => write(mapper.map(frame)),
    end: () => {
      write(mapper.end());
      writer.sendData('[DONE]');
      writer.end();
    },
    isGone: () => writer.isGone(),
  };
}
