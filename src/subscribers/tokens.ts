import crypto from 'node:crypto';

/**
 * Signed links: `<purpose>.<subscriberId>.<expiry>.<mac>`, HMAC-SHA256 keyed with DAYBREAK_SECRET.
 * The purpose is inside the MAC, so an unsubscribe token cannot be replayed as a confirm token.
 */
export type TokenPurpose = 'unsubscribe' | 'preferences' | 'confirm';

export interface TokenClaims {
  purpose: TokenPurpose;
  subscriberId: string;
  /** Epoch seconds; 0 means it does not expire (unsubscribe links in old emails must keep working). */
  expiresAt: number;
}

export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: 'malformed' | 'bad-signature' | 'wrong-purpose' | 'expired'; claims?: TokenClaims };

const purposes: readonly TokenPurpose[] = ['unsubscribe', 'preferences', 'confirm'];

export class TokenSigner {
  private readonly key: Buffer;
  constructor(secret: string) {
    // A derived key, so the raw secret is never used for two different jobs.
    this.key = crypto.createHmac('sha256', secret).update('daybreak:tokens:v1').digest();
  }

  sign(claims: TokenClaims): string {
    const body = `${claims.purpose}.${claims.subscriberId}.${claims.expiresAt.toString(36)}`;
    return `${body}.${this.mac(body)}`;
  }

  verify(token: string, purpose: TokenPurpose, now: Date = new Date()): TokenCheck {
    const parts = token.split('.');
    if (parts.length !== 4 || token.length > 200) return { ok: false, reason: 'malformed' };
    const [p, subscriberId, exp, mac] = parts as [string, string, string, string];
    if (!purposes.includes(p as TokenPurpose) || !/^[0-9]{1,15}$/.test(subscriberId) || !/^[0-9a-z]{1,12}$/.test(exp)) {
      return { ok: false, reason: 'malformed' };
    }
    const expected = Buffer.from(this.mac(`${p}.${subscriberId}.${exp}`));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
    const claims: TokenClaims = { purpose: p as TokenPurpose, subscriberId, expiresAt: parseInt(exp, 36) };
    if (claims.purpose !== purpose) return { ok: false, reason: 'wrong-purpose', claims };
    if (claims.expiresAt !== 0 && claims.expiresAt * 1000 < now.getTime()) return { ok: false, reason: 'expired', claims };
    return { ok: true, claims };
  }

  private mac(body: string): string {
    return crypto.createHmac('sha256', this.key).update(body).digest('base64url').slice(0, 32);
  }
}

/** Keyed hash of a normalised address: what the suppression list keeps, even after erasure. */
export function emailHash(secret: string, normalisedEmail: string): string {
  return crypto.createHmac('sha256', secret).update(`daybreak:email:${normalisedEmail}`).digest('base64url').slice(0, 32);
}
