/** Owner of pending sign-ups (double opt-in): what a reader asked for, with the nonce their confirm link carries. */
import path from 'node:path';
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { loadLuaScript } from '../core/lua-script';

/** Where a sign-up came from: kept with the consent record. */
export interface SignupContext {
  /** Which form: `signup-page`, `api`, `embedded:<origin>`, `preferences`, `import:<file>`, `cli`. */
  form: string;
  /** The consent line the reader saw (or, for imports and ops, what vouches for consent). */
  consentText: string;
  ip?: string;
  userAgent?: string;
  /** Chosen newsletters that keep per-reader click records, which the consent text named. */
  clickRecords?: string[];
}

/** An unconfirmed sign-up waiting for its link to be clicked. */
export interface PendingSignup {
  nonce: string;
  /** new: a new address; again: pending and asked again; change: confirmed, asking for more; resubscribe: had unsubscribed. */
  kind: 'new' | 'again' | 'change' | 'resubscribe';
  newsletters: string[];
  name?: string;
  /** The zone the reader chose on the form (IANA); set on their record when they confirm. */
  timezone?: string;
  requestedAt: string;
  context: SignupContext;
}

/** A pending sign-up lives 30 days: links expire after 7, and an expired link may ask for a new one until then. */
const PENDING_SIGNUP_TTL_SECONDS = 30 * 24 * 3600;

const consumeScript = loadLuaScript(path.join(__dirname, 'lua'), 'consume-signup-1.lua');

export class SignupRequests {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  async get(subscriberId: string): Promise<PendingSignup | undefined> {
    const raw = await this.redis.get(this.keys.pendingSignup(subscriberId));
    return raw ? (JSON.parse(raw) as PendingSignup) : undefined;
  }

  async put(subscriberId: string, signup: PendingSignup): Promise<void> {
    await this.redis.set(this.keys.pendingSignup(subscriberId), JSON.stringify(signup), 'EX', PENDING_SIGNUP_TTL_SECONDS);
  }

  /** The sign-up, consumed, when the nonce matches: a confirm link works once. */
  async consume(subscriberId: string, nonce: string): Promise<PendingSignup | undefined> {
    const raw = await consumeScript.run(this.redis, [this.keys.pendingSignup(subscriberId)], [nonce]);
    return typeof raw === 'string' ? (JSON.parse(raw) as PendingSignup) : undefined;
  }

  async forget(subscriberId: string): Promise<void> {
    await this.redis.del(this.keys.pendingSignup(subscriberId));
  }
}
