import { plainToInstance, Transform } from 'class-transformer';
import {
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  MinLength,
  validateSync,
  type ValidationError,
} from 'class-validator';
import path from 'node:path';

// What reading one document may produce, unless configured otherwise.
export const DEFAULT_EXTRACTION_LIMITS: ExtractionLimitsConfig = {
  maxTextChars: 16_000_000,
  maxPages: 5_000,
  maxPassages: 30_000,
  maxPdfDecodedBytes: 256 * 1024 * 1024,
};

// The raw environment, validated once at start. Nothing else in the app reads process.env.
class EnvironmentVariables {
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(65535)
  PORT = 3000;

  @IsOptional() @IsString() @Transform(({ value }) => checkUrl(value, ['postgres:', 'postgresql:']))
  DATABASE_URL?: string;

  @IsOptional() @IsString() @MinLength(1)
  DATA_DIR = './data';

  @IsOptional() @IsString() @Transform(({ value }) => checkUrl(value, ['redis:', 'rediss:']))
  REDIS_URL?: string;

  // Namespaces every Redis key and channel, so that deployments (or test runs) can share a server.
  @IsOptional() @IsString() @Matches(/^[A-Za-z0-9:_-]{1,40}$/, { message: 'REDIS_KEY_PREFIX must be 1-40 letters, digits, ":", "_" or "-"' })
  REDIS_KEY_PREFIX = 'chat:';

  @IsOptional() @IsString() @MinLength(32, { message: 'JWT_SECRET must be at least 32 characters' })
  JWT_SECRET?: string;

  @IsOptional() @IsString() @Transform(({ value }) => checkDuration(value))
  JWT_EXPIRES_IN = '7d';

  @IsOptional() @IsString() @MinLength(1)
  ANTHROPIC_API_KEY?: string;

  @IsOptional() @IsString() @Transform(({ value }) => checkUrl(value, ['http:', 'https:']))
  ANTHROPIC_BASE_URL?: string;

  @IsOptional() @IsString() @MinLength(1)
  OPENAI_API_KEY?: string;

  @IsOptional() @IsString() @Transform(({ value }) => checkUrl(value, ['http:', 'https:']))
  OPENAI_BASE_URL?: string;

  @IsOptional() @IsString()
  MODELS?: string;

  @IsOptional() @IsString() @MinLength(1)
  DEFAULT_MODEL?: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0)
  ANON_MESSAGE_LIMIT = 10;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0)
  ANON_IP_MESSAGE_LIMIT = 50;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0)
  USER_INITIAL_CREDITS = 100_000;

  @IsOptional() @IsString()
  CORS_ORIGINS?: string;

  @IsOptional() @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1_000_000)
  MAX_CONTENT_CHARS = 32_000;

  @IsOptional() @IsString()
  SYSTEM_PROMPT?: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(100)
  HISTORY_TOKEN_BUDGET = 8_000;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1_000_000)
  DEFAULT_MAX_TOKENS = 1024;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(10_000)
  ECHO_DELAY_MS = 30;

  @IsOptional() @IsString() @MinLength(16, { message: 'INTERNAL_API_KEY must be at least 16 characters' })
  INTERNAL_API_KEY?: string;

  @IsOptional() @IsIn(['true', 'false'])
  TRUST_PROXY = 'false';

  // The model providers' SDK clients run on a worker thread of their own (true), or on the main
  // thread with everything else (false).
  @IsOptional() @IsIn(['true', 'false'])
  PROVIDER_THREAD = 'true';

  @IsOptional() @IsString()
  MODEL_PRICES?: string;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1)
  RATE_LIMIT_PER_MINUTE = 120;

  @IsOptional() @Transform(toInt) @IsInt() @Min(50) @Max(600_000)
  SSE_PING_INTERVAL_MS = 15_000;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(120_000)
  SOCKET_GENERATION_GRACE_MS = 15_000;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1)
  SOCKET_EVENTS_PER_MINUTE = 300;

  @IsOptional() @Transform(toInt) @IsInt() @Min(2) @Max(1000)
  DATABASE_POOL_SIZE = 20;

  // Running generations per instance; past it, new sends are refused at once with SERVER_BUSY.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1_000_000)
  MAX_ACTIVE_GENERATIONS = 5_000;

  // How long running answers may go on after SIGTERM before they are stopped and stored.
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(3_600_000)
  SHUTDOWN_DRAIN_MS = 30_000;

  // Running answers per identity, across transports and instances; past it, CONCURRENCY_LIMIT.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1_000_000)
  MAX_CONCURRENT_GENERATIONS = 3;

  // What an SSE response may hold unsent for a client that reads slowly before it is dropped.
  @IsOptional() @Transform(toInt) @IsInt() @Min(16_384) @Max(1_073_741_824)
  SSE_MAX_BUFFER_BYTES = 4 * 1024 * 1024;

  // The largest upload; a bigger one is refused with PAYLOAD_TOO_LARGE while it is still arriving.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1024) @Max(1_073_741_824)
  MAX_DOCUMENT_BYTES = 10 * 1024 * 1024;

  // Upload bytes this instance receives at once, over all uploads; an upload that does not fit
  // is refused at once with SERVER_BUSY. Absent: room for four uploads of MAX_DOCUMENT_BYTES.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1024) @Max(17_179_869_184)
  MAX_UPLOAD_BYTES_IN_FLIGHT?: number;

  // The longest an upload may take, and the least it must send per second (over each 5 s):
  // past either it is cut with VALIDATION_ERROR. 0: no minimum rate.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1000) @Max(3_600_000)
  UPLOAD_TIMEOUT_MS = 120_000;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(1_073_741_824)
  UPLOAD_MIN_BYTES_PER_SECOND = 16_384;

  // What one identity may keep: documents (any status) and their total size. Past either, an
  // upload is refused with PAYLOAD_TOO_LARGE until documents are deleted.
  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(1_000_000)
  ANON_DOCUMENT_LIMIT = 20;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(1_099_511_627_776)
  ANON_DOCUMENT_BYTES_LIMIT = 50 * 1024 * 1024;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(1_000_000)
  USER_DOCUMENT_LIMIT = 1000;

  @IsOptional() @Transform(toInt) @IsInt() @Min(0) @Max(1_099_511_627_776)
  USER_DOCUMENT_BYTES_LIMIT = 1024 * 1024 * 1024;

  // What reading one document may produce; past a limit it fails with a reason, never retried.
  // Text: at most this many characters (and never more than 20 per byte of the file).
  @IsOptional() @Transform(toInt) @IsInt() @Min(1000) @Max(1_000_000_000)
  MAX_DOCUMENT_TEXT_CHARS = DEFAULT_EXTRACTION_LIMITS.maxTextChars;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(1_000_000)
  MAX_DOCUMENT_PAGES = DEFAULT_EXTRACTION_LIMITS.maxPages;

  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(10_000_000)
  MAX_DOCUMENT_PASSAGES = DEFAULT_EXTRACTION_LIMITS.maxPassages;

  // The data a PDF's compressed streams expand to, measured before PDF.js reads it (a stream
  // at most a quarter of it).
  @IsOptional() @Transform(toInt) @IsInt() @Min(1_048_576) @Max(17_179_869_184)
  MAX_PDF_DECODED_BYTES = DEFAULT_EXTRACTION_LIMITS.maxPdfDecodedBytes;

  // An OpenAI-compatible embeddings model (OPENAI_BASE_URL's server): vector search beside full text.
  @IsOptional() @IsString() @Length(1, 200)
  EMBEDDINGS_MODEL?: string;

  // Passages given to the model (and streamed as message_sources) per answer.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(50)
  RETRIEVAL_TOP_K = 5;

  // Documents one instance reads, splits and indexes at a time.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1) @Max(32)
  DOCUMENT_WORKERS = 1;

  // A JSON body past this is refused with PAYLOAD_TOO_LARGE (413). Absent: room for
  // MAX_CONTENT_CHARS characters written as \uXXXX escapes (as Python's json.dumps does), plus 16 KiB.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1024) @Max(1_073_741_824)
  MAX_BODY_BYTES?: number;

  // A socket event whose payload is past this is answered with PAYLOAD_TOO_LARGE; the transport
  // itself drops a connection only past four times as much. Absent: as MAX_BODY_BYTES.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1024) @Max(268_435_456)
  MAX_SOCKET_PAYLOAD_BYTES?: number;

  // Request line and headers together; past it the request is refused with PAYLOAD_TOO_LARGE.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1024) @Max(1_048_576)
  MAX_HEADER_BYTES = 16_384;

  // A model provider that sends nothing for this long after the request (first byte), or
  // between two events of its stream (idle), is given up with PROVIDER_ERROR.
  @IsOptional() @Transform(toInt) @IsInt() @Min(50) @Max(3_600_000)
  PROVIDER_FIRST_BYTE_TIMEOUT_MS = 60_000;

  @IsOptional() @Transform(toInt) @IsInt() @Min(50) @Max(3_600_000)
  PROVIDER_IDLE_TIMEOUT_MS = 60_000;

  // Socket.IO connections per client address per minute; past it the handshake is refused
  // with RATE_LIMITED.
  @IsOptional() @Transform(toInt) @IsInt() @Min(1)
  SOCKET_CONNECTIONS_PER_MINUTE = 60;

  // How long a Redis command may wait (for a reply, or for a lost connection to come back)
  // before it fails; nothing queues for longer while Redis is away.
  @IsOptional() @Transform(toInt) @IsInt() @Min(50) @Max(60_000)
  REDIS_COMMAND_TIMEOUT_MS = 2_000;
}

export type ProviderName = 'anthropic' | 'openai' | 'echo';

export interface ModelConfig {
  id: string;
  provider: ProviderName;
  maxOutputTokens: number;
  // Credits charged per 1000 tokens.
  inputPrice: number;
  outputPrice: number;
}

export interface AppConfig {
  port: number;
  databaseUrl?: string;
  dataDir: string;
  redisUrl?: string;
  redisKeyPrefix: string;
  jwtSecret?: string;
  jwtExpiresInSeconds: number;
  anthropic: { apiKey?: string; baseUrl?: string };
  openai: { apiKey?: string; baseUrl?: string };
  models: ModelConfig[];
  defaultModel: string;
  anonMessageLimit: number;
  anonIpMessageLimit: number;
  userInitialCredits: number;
  corsOrigins: string[] | '*';
  logLevel: string;
  maxContentChars: number;
  systemPrompt?: string;
  historyTokenBudget: number;
  defaultMaxTokens: number;
  echoDelayMs: number;
  internalApiKey?: string;
  trustProxy: boolean;
  providerThread: boolean;
  rateLimitPerMinute: number;
  socketEventsPerMinute: number;
  ssePingIntervalMs: number;
  socketGenerationGraceMs: number;
  databasePoolSize: number;
  maxActiveGenerations: number;
  maxConcurrentGenerations: number;
  shutdownDrainMs: number;
  sseMaxBufferBytes: number;
  maxDocumentBytes: number;
  maxUploadBytesInFlight: number;
  uploadTimeoutMs: number;
  uploadMinBytesPerSecond: number;
  documentQuota: { anonymous: DocumentQuota; user: DocumentQuota };
  extraction: ExtractionLimitsConfig;
  embeddingsModel?: string;
  retrievalTopK: number;
  documentWorkers: number;
  maxBodyBytes: number;
  maxSocketPayloadBytes: number;
  maxHeaderBytes: number;
  providerFirstByteTimeoutMs: number;
  providerIdleTimeoutMs: number;
  socketConnectionsPerMinute: number;
  redisCommandTimeoutMs: number;
}

export interface DocumentQuota {
  documents: number;
  bytes: number;
}

export interface ExtractionLimitsConfig {
  maxTextChars: number;
  maxPages: number;
  maxPassages: number;
  maxPdfDecodedBytes: number;
}

// The multipart framing and small fields an upload may carry beside its file.
export const MULTIPART_OVERHEAD = 64 * 1024;

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
  }
}

const DEFAULT_ANTHROPIC_MODELS = ['claude-sonnet-5', 'claude-haiku-4-5', 'claude-opus-5'];

// Credits per 1000 tokens [input, output]; overridable with MODEL_PRICES.
const DEFAULT_PRICES: Record<ProviderName, [number, number]> = {
  echo: [1, 1],
  anthropic: [3, 15],
  openai: [1, 2],
};

export function loadConfig(env: Record<string, string | undefined>): AppConfig {
  const present = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const vars = plainToInstance(EnvironmentVariables, present, { exposeDefaultValues: true });
  const errors = validateSync(vars, { whitelist: false });
  if (errors.length > 0) throw new ConfigError(errors.map(describe));

  const problems: string[] = [];
  const models = parseModels(vars, problems);
  applyPrices(models, vars.MODEL_PRICES, problems);
  const defaultModel = vars.DEFAULT_MODEL ?? pickDefaultModel(models);
  if (!models.some((m) => m.id === defaultModel)) {
    problems.push(`DEFAULT_MODEL: "${defaultModel}" is not one of the configured models (${models.map((m) => m.id).join(', ')})`);
  }
  const maxUploadBytesInFlight = vars.MAX_UPLOAD_BYTES_IN_FLIGHT ?? 4 * (vars.MAX_DOCUMENT_BYTES + MULTIPART_OVERHEAD);
  if (maxUploadBytesInFlight < vars.MAX_DOCUMENT_BYTES + MULTIPART_OVERHEAD) {
    problems.push(`MAX_UPLOAD_BYTES_IN_FLIGHT: must hold one upload of MAX_DOCUMENT_BYTES and its framing (at least ${vars.MAX_DOCUMENT_BYTES + MULTIPART_OVERHEAD})`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  const maxBodyBytes = vars.MAX_BODY_BYTES ?? vars.MAX_CONTENT_CHARS * 6 + 16_384;

  return {
    port: vars.PORT,
    databaseUrl: vars.DATABASE_URL,
    dataDir: path.resolve(vars.DATA_DIR),
    redisUrl: vars.REDIS_URL,
    redisKeyPrefix: vars.REDIS_KEY_PREFIX,
    jwtSecret: vars.JWT_SECRET,
    jwtExpiresInSeconds: durationSeconds(vars.JWT_EXPIRES_IN),
    anthropic: { apiKey: vars.ANTHROPIC_API_KEY, baseUrl: vars.ANTHROPIC_BASE_URL },
    openai: { apiKey: vars.OPENAI_API_KEY, baseUrl: vars.OPENAI_BASE_URL },
    models,
    defaultModel,
    anonMessageLimit: vars.ANON_MESSAGE_LIMIT,
    anonIpMessageLimit: vars.ANON_IP_MESSAGE_LIMIT,
    userInitialCredits: vars.USER_INITIAL_CREDITS,
    corsOrigins: parseOrigins(vars.CORS_ORIGINS),
    logLevel: vars.LOG_LEVEL,
    maxContentChars: vars.MAX_CONTENT_CHARS,
    systemPrompt: vars.SYSTEM_PROMPT,
    historyTokenBudget: vars.HISTORY_TOKEN_BUDGET,
    defaultMaxTokens: vars.DEFAULT_MAX_TOKENS,
    echoDelayMs: vars.ECHO_DELAY_MS,
    internalApiKey: vars.INTERNAL_API_KEY,
    trustProxy: vars.TRUST_PROXY === 'true',
    providerThread: vars.PROVIDER_THREAD === 'true',
    rateLimitPerMinute: vars.RATE_LIMIT_PER_MINUTE,
    socketEventsPerMinute: vars.SOCKET_EVENTS_PER_MINUTE,
    ssePingIntervalMs: vars.SSE_PING_INTERVAL_MS,
    socketGenerationGraceMs: vars.SOCKET_GENERATION_GRACE_MS,
    databasePoolSize: vars.DATABASE_POOL_SIZE,
    maxActiveGenerations: vars.MAX_ACTIVE_GENERATIONS,
    maxConcurrentGenerations: vars.MAX_CONCURRENT_GENERATIONS,
    shutdownDrainMs: vars.SHUTDOWN_DRAIN_MS,
    sseMaxBufferBytes: vars.SSE_MAX_BUFFER_BYTES,
    maxDocumentBytes: vars.MAX_DOCUMENT_BYTES,
    maxUploadBytesInFlight,
    uploadTimeoutMs: vars.UPLOAD_TIMEOUT_MS,
    uploadMinBytesPerSecond: vars.UPLOAD_MIN_BYTES_PER_SECOND,
    documentQuota: {
      anonymous: { documents: vars.ANON_DOCUMENT_LIMIT, bytes: vars.ANON_DOCUMENT_BYTES_LIMIT },
      user: { documents: vars.USER_DOCUMENT_LIMIT, bytes: vars.USER_DOCUMENT_BYTES_LIMIT },
    },
    extraction: {
      maxTextChars: vars.MAX_DOCUMENT_TEXT_CHARS,
      maxPages: vars.MAX_DOCUMENT_PAGES,
      maxPassages: vars.MAX_DOCUMENT_PASSAGES,
      maxPdfDecodedBytes: vars.MAX_PDF_DECODED_BYTES,
    },
    embeddingsModel: vars.EMBEDDINGS_MODEL,
    retrievalTopK: vars.RETRIEVAL_TOP_K,
    documentWorkers: vars.DOCUMENT_WORKERS,
    maxBodyBytes,
    maxSocketPayloadBytes: vars.MAX_SOCKET_PAYLOAD_BYTES ?? maxBodyBytes,
    maxHeaderBytes: vars.MAX_HEADER_BYTES,
    providerFirstByteTimeoutMs: vars.PROVIDER_FIRST_BYTE_TIMEOUT_MS,
    providerIdleTimeoutMs: vars.PROVIDER_IDLE_TIMEOUT_MS,
    socketConnectionsPerMinute: vars.SOCKET_CONNECTIONS_PER_MINUTE,
    redisCommandTimeoutMs: vars.REDIS_COMMAND_TIMEOUT_MS,
  };
}

// MODELS: "anthropic=claude-sonnet-5,claude-haiku-4-5;openai=llama3.2,qwen2.5". A provider is only
// offered when its key (or, for OpenAI-compatible servers, its base URL) is set.
function parseModels(vars: EnvironmentVariables, problems: string[]): ModelConfig[] {
  const lists: Partial<Record<ProviderName, string[]>> = {};
  if (vars.MODELS) {
    for (const part of vars.MODELS.split(';').map((p) => p.trim()).filter(Boolean)) {
      const [provider, ids] = part.split('=');
      if (provider !== 'anthropic' && provider !== 'openai' && provider !== 'echo') {
        problems.push(`MODELS: unknown provider "${provider}" (expected anthropic, openai or echo)`);
        continue;
      }
      const list = (ids ?? '').split(',').map((id) => id.trim()).filter(Boolean);
      if (list.length === 0) problems.push(`MODELS: provider "${provider}" lists no model ids`);
      lists[provider] = list;
    }
  }
  const anthropicOn = Boolean(vars.ANTHROPIC_API_KEY);
  const openaiOn = Boolean(vars.OPENAI_API_KEY || vars.OPENAI_BASE_URL);
  if (lists.anthropic && !anthropicOn) problems.push('MODELS: anthropic models are listed but ANTHROPIC_API_KEY is not set');
  if (lists.openai && !openaiOn) problems.push('MODELS: openai models are listed but neither OPENAI_API_KEY nor OPENAI_BASE_URL is set');
  // A server used only for embeddings (EMBEDDINGS_MODEL) serves no chat model.
  if (openaiOn && !lists.openai && !vars.EMBEDDINGS_MODEL) problems.push('MODELS: OPENAI_BASE_URL/OPENAI_API_KEY is set, so MODELS must name the models it serves (openai=...)');
  if (vars.EMBEDDINGS_MODEL && !openaiOn) problems.push('EMBEDDINGS_MODEL: embeddings come from the OpenAI-compatible provider, but neither OPENAI_BASE_URL nor OPENAI_API_KEY is set');

  const models: ModelConfig[] = [];
  const add = (provider: ProviderName, id: string) => {
    if (models.some((m) => m.id === id)) problems.push(`MODELS: model "${id}" is listed twice`);
    const [inputPrice, outputPrice] = DEFAULT_PRICES[provider];
    models.push({ id, provider, maxOutputTokens: provider === 'echo' ? 4096 : 8192, inputPrice, outputPrice });
  };
  if (anthropicOn) for (const id of lists.anthropic ?? DEFAULT_ANTHROPIC_MODELS) add('anthropic', id);
  if (openaiOn) for (const id of lists.openai ?? []) add('openai', id);
  add('echo', 'echo');
  return models;
}

// MODEL_PRICES: "claude-sonnet-5=3/15,echo=0/0": credits per 1000 input/output tokens.
function applyPrices(models: ModelConfig[], spec: string | undefined, problems: string[]): void {
  if (!spec) return;
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const match = /^([^=]+)=(\d+(?:\.\d+)?)\/(\d+(?:\.\d+)?)$/.exec(part);
    const model = match && models.find((m) => m.id === match[1]);
    if (!match || !model) {
      problems.push(`MODEL_PRICES: "${part}" is not "<configured model>=<input>/<output>"`);
      continue;
    }
    model.inputPrice = Number(match[2]);
    model.outputPrice = Number(match[3]);
  }
}

function pickDefaultModel(models: ModelConfig[]): string {
  return (models.find((m) => m.provider !== 'echo') ?? models[models.length - 1]).id;
}

function parseOrigins(value: string | undefined): string[] | '*' {
  if (!value || value.trim() === '*') return '*';
  return value.split(',').map((o) => o.trim().replace(/\/$/, '')).filter(Boolean);
}

function toInt({ value }: { value: unknown }): unknown {
  return typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value;
}

// Invalid values are replaced by a marker that fails the @IsString check with a clear message.
function checkUrl(value: unknown, protocols: string[]): unknown {
  if (typeof value !== 'string') return value;
  try {
    if (protocols.includes(new URL(value).protocol)) return value;
  } catch {
    // fall through
  }
  return { invalid: `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}` };
}

function checkDuration(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  return /^\d+[smhd]?$/.test(value.trim()) ? value.trim() : { invalid: 'a duration such as 3600, 15m, 12h or 7d' };
}

function durationSeconds(value: string): number {
  const unit = value.at(-1) ?? '';
  const n = Number.parseInt(value, 10);
  const factor = ({ s: 1, m: 60, h: 3600, d: 86400 } as Record<string, number>)[unit] ?? 1;
  return n * factor;
}

function describe(error: ValidationError): string {
  const value = error.value as unknown;
  if (value && typeof value === 'object' && 'invalid' in value) {
    return `${error.property}: expected ${String((value as { invalid: string }).invalid)}`;
  }
  const reasons = Object.values(error.constraints ?? {}).join('; ');
  // Secrets and URLs (which may carry passwords) are never echoed back.
  const secret = /SECRET|KEY|URL|PASSWORD/.test(error.property);
  return secret ? `${error.property}: ${reasons}` : `${error.property}: ${reasons} (got ${JSON.stringify(value)})`;
}
