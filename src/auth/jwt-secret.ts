import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { AppConfig } from '../config/app-config.js';

// JWT_SECRET, or a secret generated on first start and kept under DATA_DIR (mode 0600).
export async function loadJwtSecret(config: AppConfig): Promise<string> {
  if (config.jwtSecret) return config.jwtSecret;
  const file = path.join(config.dataDir, 'jwt-secret');
  try {
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored.length >= 32) return stored;
  } catch {
    // not there yet
  }
  await mkdir(config.dataDir, { recursive: true });
  const secret = randomBytes(48).toString('base64url');
  try {
    // 'wx': when two instances start together, the first writer wins and the other re-reads.
    await writeFile(file, secret, { mode: 0o600, flag: 'wx' });
    return secret;
  } catch {
    // Another instance wrote it first, or a file is there that is too short to be a secret.
    const stored = (await readFile(file, 'utf8')).trim();
    if (stored.length < 32) throw new Error(`${file} holds no usable JWT secret (under 32 characters): delete it or set JWT_SECRET`);
    return stored;
  }
}
