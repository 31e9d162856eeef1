/** Owner of the consent log: each reader's consent given and withdrawn, oldest first, kept until erasure. */
import type Redis from 'ioredis';
import type { Keys } from '../core/keys';
import { consentTextRefs, decodeConsent, type StoredConsent } from './stored-form';

/** One consent event (stored as stored-form.ts encodes it). */
export type ConsentRecord = StoredConsent;

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
