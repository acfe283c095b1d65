export class HealthResponse {
  status: 'ok' | 'degraded';
  connected_users: number;
  active_sessions: number;
  active_streams: number;
  database: 'up' | 'down';
}

export class LiveResponse {
  status: 'ok';
}

export class ReadyResponse {
  status: 'ready' | 'draining' | 'unavailable';
  database: 'up' | 'down';
  redis: 'up' | 'down' | 'off';
  draining: boolean;
}
