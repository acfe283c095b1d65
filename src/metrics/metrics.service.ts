import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { ErrorCode } from '../common/errors/error-code.js';

// Seconds, from a few milliseconds (time to first delta on a fast path) to long answers.
const LATENCY_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const DURATION_BUCKETS = [0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

// The contract's metrics (GET /metrics), plus Node's default process metrics, on a registry of
// this application's own (two apps in one process, as in tests, do not share counts).
@Injectable()
export class MetricsService {
  readonly registry = new Registry();

  readonly ttft = new Histogram({
    name: 'chat_generation_ttft_seconds',
    help: 'From the request received to the first delta written, per model',
    labelNames: ['model'],
    buckets: LATENCY_BUCKETS,
    registers: [this.registry],
  });

  readonly duration = new Histogram({
    name: 'chat_generation_duration_seconds',
    help: 'From the request received to the generation stored and closed, per model',
    labelNames: ['model'],
    buckets: DURATION_BUCKETS,
    registers: [this.registry],
  });

  readonly generations = new Counter({
    name: 'chat_generations_total',
    help: 'Generations ended, by model and stored status',
    labelNames: ['model', 'status'],
    registers: [this.registry],
  });

  readonly providerErrors = new Counter({
    name: 'chat_provider_errors_total',
    help: 'Model provider failures, by provider and error code',
    labelNames: ['provider', 'code'],
    registers: [this.registry],
  });

  readonly refusals = new Counter({
    name: 'chat_refusals_total',
    help: 'Requests and socket events refused, by error code (quotas and rate limits included)',
    labelNames: ['code'],
    registers: [this.registry],
  });

  readonly tokens = new Counter({
    name: 'chat_tokens_total',
    help: 'Tokens used, by model and direction',
    labelNames: ['model', 'direction'],
    registers: [this.registry],
  });

  private activeStreams: () => number = () => 0;
  private socketConnections: () => number = () => 0;

  constructor() {
    collectDefaultMetrics({ register: this.registry });
    const read = { streams: () => this.activeStreams(), sockets: () => this.socketConnections() };
    new Gauge({
      name: 'chat_active_streams',
      help: 'Generations running in this instance',
      registers: [this.registry],
      collect() {
        this.set(read.streams());
      },
    });
    new Gauge({
      name: 'chat_socket_connections',
      help: 'Socket.IO connections to /chats on this instance',
      registers: [this.registry],
      collect() {
        this.set(read.sockets());
      },
    });
  }

  // The gauges read these when scraped.
  observeActiveStreams(read: () => number): void {
    this.activeStreams = read;
  }

  observeSocketConnections(read: () => number): void {
    this.socketConnections = read;
  }

  // An INTERNAL_ERROR is a failure, not a refusal: it is not counted here.
  refused(code: string): void {
    if (code !== ErrorCode.INTERNAL_ERROR) this.refusals.inc({ code });
  }
}
