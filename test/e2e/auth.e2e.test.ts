import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { createTestDatabase } from '../support/db.js';
import { registerUser, request, uniqueEmail } from '../support/http.js';

describe('auth over HTTP', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t.close();
  });

  it('registers, logs in and answers me', async () => {
    const email = uniqueEmail();
    const reg = await request(t.baseUrl, 'POST', '/api/v1/auth/register', { body: { email: email.toUpperCase(), password: 'hunter2hunter2', name: 'Ann' } });
    expect(reg.status).toBe(201);
    expect(reg.body).toMatchObject({ token_type: 'Bearer', expires_in: 604800, user: { email, name: 'Ann' } });
    expect(reg.body).not.toHaveProperty('user.password_hash');

    const login = await request(t.baseUrl, 'POST', '/api/v1/auth/login', { body: { email, password: 'hunter2hunter2' } });
    expect(login.status).toBe(200);
    const me = await request(t.baseUrl, 'GET', '/api/v1/auth/me', { headers: { authorization: `Bearer ${login.body.access_token}` } });
    expect(me.status).toBe(200);
    expect(me.body.user).toEqual(reg.body.user);
    expect(me.body.usage).toMatchObject({ identity: 'user', user_id: reg.body.user.id });
  });

  it('refuses a wrong password and an unknown email alike', async () => {
    const { email } = await registerUser(t.baseUrl);
    const wrong = await request(t.baseUrl, 'POST', '/api/v1/auth/login', { body: { email, password: 'not the password' } });
    const unknown = await request(t.baseUrl, 'POST', '/api/v1/auth/login', { body: { email: uniqueEmail('nobody'), password: 'whatever1' } });
    for (const res of [wrong, unknown]) {
      expect(res.status).toBe(401);
      expect(res.body).toMatchObject({ status_code: 401, code: 'INVALID_CREDENTIALS' });
      expect(typeof res.body.request_id).toBe('string');
    }
  });

  it('refuses a duplicate email with EMAIL_TAKEN', async () => {
    const { email } = await registerUser(t.baseUrl);
    const res = await request(t.baseUrl, 'POST', '/api/v1/auth/register', { body: { email, password: 'another-password' } });
    expect(res.status).toBe(409);
    expect(res.body.code).toBe('EMAIL_TAKEN');
  });

  it('refuses malformed bodies with VALIDATION_ERROR', async () => {
    const cases = [
      { email: 'not-an-email', password: 'longenough' },
      { email: uniqueEmail(), password: 'short' },
      { email: uniqueEmail(), password: 'longenough', extra: 1 },
      '{"email": ',
      '[]',
    ];
    for (const body of cases) {
      const res = await request(t.baseUrl, 'POST', '/api/v1/auth/register', { body, headers: { 'content-type': 'application/json' } });
      expect(res.status, JSON.stringify(body)).toBe(400);
      expect(res.body.code).toBe('VALIDATION_ERROR');
    }
  });

  it('refuses forged, alg:none, expired and malformed tokens with UNAUTHORIZED', async () => {
    const { userId } = await registerUser(t.baseUrl);
    const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
    const now = Math.floor(Date.now() / 1000);
    const sign = (header: object, payload: object, secret: string) => {
      const head = `${b64(header)}.${b64(payload)}`;
      return `${head}.${createHmac('sha256', secret).update(head).digest('base64url')}`;
    };
    const tokens = [
      `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ sub: userId, iat: now, exp: now + 3600 })}.`,
      sign({ alg: 'HS256', typ: 'JWT' }, { sub: userId, iat: now, exp: now + 3600 }, 'someone-elses-secret-someone-elses-secret'),
      sign({ alg: 'HS256', typ: 'JWT' }, { sub: userId, iat: now - 7200, exp: now - 3600 }, t.config.jwtSecret!),
      sign({ alg: 'HS512', typ: 'JWT' }, { sub: userId, iat: now, exp: now + 3600 }, t.config.jwtSecret!),
      'garbage',
    ];
    for (const token of tokens) {
      const res = await request(t.baseUrl, 'GET', '/api/v1/auth/me', { headers: { authorization: `Bearer ${token}` } });
      expect(res.status, token).toBe(401);
      expect(res.body.code).toBe('UNAUTHORIZED');
    }
    const noToken = await request(t.baseUrl, 'GET', '/api/v1/auth/me');
    expect(noToken.status).toBe(401);
    // The process is still serving.
    expect((await request(t.baseUrl, 'GET', '/health')).status).toBe(200);
  });

  it('accepts a token it signed with HS256 and the right secret', async () => {
    const { userId } = await registerUser(t.baseUrl);
    const now = Math.floor(Date.now() / 1000);
    const head = `${Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify({ sub: userId, iat: now, exp: now + 60 })).toString('base64url')}`;
    const token = `${head}.${createHmac('sha256', t.config.jwtSecret!).update(head).digest('base64url')}`;
    const res = await request(t.baseUrl, 'GET', '/api/v1/auth/me', { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
  });

  it('refuses a malformed x-anon-id with INVALID_ANON_ID', async () => {
    const res = await request(t.baseUrl, 'POST', '/api/v1/auth/register', {
      body: { email: uniqueEmail(), password: 'longenough' },
      headers: { 'x-anon-id': 'not-a-uuid' },
    });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_ANON_ID');
  });

  it('answers health with the database up', async () => {
    const res = await request(t.baseUrl, 'GET', '/health');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'ok', database: 'up', connected_users: 0, active_sessions: 0, active_streams: 0 });
  });

  it('answers unknown routes with the error envelope', async () => {
    const res = await request(t.baseUrl, 'GET', '/api/v1/nothing-here');
    expect(res.status).toBe(404);
    expect(res.body).toMatchObject({ status_code: 404, code: 'NOT_FOUND' });
    expect(res.headers.get('x-request-id')).toBe(res.body.request_id);
  });
});

describe('limits and failures around auth', () => {
  it('rate-limits login attempts per client address', async () => {
    const t = await startTestApp({ env: { RATE_LIMIT_PER_MINUTE: '3' } });
    try {
      const attempt = () => request(t.baseUrl, 'POST', '/api/v1/auth/login', { body: { email: uniqueEmail(), password: 'guess-guess' } });
      for (let i = 0; i < 3; i++) expect((await attempt()).status).toBe(401);
      const limited = await attempt();
      expect(limited.status).toBe(429);
      expect(limited.body.code).toBe('RATE_LIMITED');
      expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await t.close();
    }
  });

  it('answers health with 503 and database "down" when PostgreSQL is gone, and keeps serving', async () => {
    const database = await createTestDatabase();
    const t = await startTestApp({ database });
    try {
      await database.drop();
      const res = await request(t.baseUrl, 'GET', '/health');
      expect(res.status).toBe(503);
      expect(res.body).toMatchObject({ database: 'down' });
      const login = await request(t.baseUrl, 'POST', '/api/v1/auth/login', { body: { email: uniqueEmail(), password: 'whatever1' } });
      expect(login.status).toBe(500);
      expect(login.body).toMatchObject({ code: 'INTERNAL_ERROR', message: 'Internal server error' });
      expect(JSON.stringify(login.body)).not.toMatch(/database|SELECT|relation|terminat/i);
    } finally {
      await t.close().catch(() => undefined);
    }
  });
});
