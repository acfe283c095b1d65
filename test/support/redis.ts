import { randomBytes } from 'node:crypto';

export const REDIS_TEST_URL = process.env.REDIS_TEST_URL ?? 'redis://127.0.0.1:6379';

// Environment for apps that share one Redis: a key prefix of their own, so that test files
// running in parallel on one Redis server never see each other's keys, rooms or limits.
// Call once and pass the same object to every instance that should form one cluster.
export function redisEnv(): { REDIS_URL: string; REDIS_KEY_PREFIX: string } {
  return { REDIS_URL: REDIS_TEST_URL, REDIS_KEY_PREFIX: `t${randomBytes(5).toString('hex')}:` };
}
