/** Owner of the consent log: each reader's consent given and withdrawn, oldest first, kept until erasure. */
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { consentTextRefs, decodeConsent } from './stored-form';

/** One consent event. */
export interface ConsentRecord {
  at: string;
  action: 'given' | 'withdrawn';
  newsletters: string[];
  form?: string;
  consentText?: string;
  /** The sign-up request (double opt-in: the form post). */
  requestedAt?: string;
  ip?: string;
  userAgent?: string;
  /** The confirmation click. */
  confirmedIp?: string;
  confirmedUserAgent?: string;
  reason?: string;
  /** Newsletters whose per-reader click records the consent text shown covered (docs/editorial.md). */
  clickRecords?: string[];
}

/**
 * Model: `sub:<id>:consent` STRING of encoded entries (stored-form.ts), appended by the change
 * script with its change (records.ts) or by the import; `consent:texts` HASH reference -> consent
 * text, so the text a form shows is stored once, not once per reader. Both kept until erasure
 * (the texts, which name nobody, for good).
 */
export class ConsentLog {
  constructor(private readonly redis: Redis, private readonly keys: Keys) {}

  /** The key a change script appends to (records.ts applies a change and its consent entry together). */
  keyOf(subscriberId: string): string {
    return this.keys.subscriberConsent(subscriberId);
  }

  async read(subscriberId: string): Promise<ConsentRecord[]> {
    const stored = await this.redis.get(this.keys.subscriberConsent(subscriberId));
    const refs = consentTextRefs(stored);
    const texts = new Map<string, string>();
    if (refs.length) {
      const values = await this.redis.hmget(this.keys.consentTexts(), ...refs);
      refs.forEach((ref, i) => {
        const text = values[i];
        if (text != null) texts.set(ref, text);
      });
    }
    return decodeConsent(stored, texts);
  }

  async forget(subscriberId: string): Promise<void> {
    await this.redis.del(this.keys.subscriberConsent(subscriberId));
  }
}
