/** Signed links (unsubscribe, preferences, confirm, forms) and the keyed hash of an address. */
import crypto from 'node:crypto';
import { EditionLinkSigner } from './edition-links';

/**
 * Signed links: `<purpose>.<subscriberId>.<expiry>[.<nonce>].<mac>`, HMAC-SHA256 keyed with a key
 * derived from DAYBREAK_SECRET. Purpose, subscriber, expiry and nonce are all inside the MAC, so an
 * unsubscribe token cannot be replayed as a confirm token, nor one reader's token edited into
 * another's. The nonce ties a token to server-side state that can be consumed (a confirm link
 * works once) or to one rendering of a form.
 */
export type TokenPurpose = 'unsubscribe' | 'preferences' | 'confirm' | 'form';

export interface TokenClaims {
  purpose: TokenPurpose;
  /** Digits; "0" for tokens that belong to no subscriber (the public sign-up form). */
  subscriberId: string;
  /** Epoch seconds; 0 means it does not expire (unsubscribe links in old emails must keep working). */
  expiresAt: number;
  /** Random, URL-safe; required for confirm and form tokens. */
  nonce?: string;
}

export type TokenFailure = 'malformed' | 'bad-signature' | 'wrong-purpose' | 'expired';
export type TokenCheck = { ok: true; claims: TokenClaims } | { ok: false; reason: TokenFailure; claims?: TokenClaims };

const purposes: readonly TokenPurpose[] = ['unsubscribe', 'preferences', 'confirm', 'form'];
const noncePattern = /^[A-Za-z0-9_-]{8,43}$/;

/** Confirmation links are good for seven days; an expired one offers a fresh link. */
export const CONFIRM_TOKEN_TTL_SECONDS = 7 * 24 * 3600;

export function newNonce(): string {
  return crypto.randomBytes(12).toString('base64url');
}

export class TokenSigner {
  private readonly key: Buffer;
  /** Links that name an edition (story redirects, unsubscribe attribution, editors), keyed from the same secret. */
  readonly editionLinks: EditionLinkSigner;
  constructor(secret: string) {
    this.editionLinks = new EditionLinkSigner(secret);
    // A derived key, so the raw secret is never used for two different jobs.
    this.key = crypto.createHmac('sha256', secret).update('daybreak:tokens:v1').digest();
  }

  sign(claims: TokenClaims): string {
    if (!/^[0-9]{1,15}$/.test(claims.subscriberId)) throw new Error(`token subscriber id must be digits, got "${claims.subscriberId}"`);
    if (claims.nonce !== undefined && !noncePattern.test(claims.nonce)) throw new Error('token nonce must be 8-43 URL-safe characters');
    const body = `${claims.purpose}.${claims.subscriberId}.${Math.max(0, Math.floor(claims.expiresAt)).toString(36)}${claims.nonce ? `.${claims.nonce}` : ''}`;
    return `${body}.${this.mac(body)}`;
  }

  /** A confirm link for one pending sign-up (its nonce), valid for seven days from `now`. */
  signConfirm(subscriberId: string, nonce: string, now: Date): string {
    return this.sign({ purpose: 'confirm', subscriberId, nonce, expiresAt: Math.floor(now.getTime() / 1000) + CONFIRM_TOKEN_TTL_SECONDS });
  }

  /**
   * Checks signature, purpose and expiry. An expired token still reports its claims (the
   * signature was good), so a page can offer a new link to the same subscriber.
   */
  verify(token: string, purpose: TokenPurpose, now: Date = new Date()): TokenCheck {
    if (typeof token !== 'string' || token.length > 200) return { ok: false, reason: 'malformed' };
    const parts = token.split('.');
    if (parts.length !== 4 && parts.length !== 5) return { ok: false, reason: 'malformed' };
    const [p, subscriberId, exp] = parts as [string, string, string];
    const nonce = parts.length === 5 ? parts[3] : undefined;
    const mac = parts[parts.length - 1] as string;
    if (!purposes.includes(p as TokenPurpose) || !/^[0-9]{1,15}$/.test(subscriberId) || !/^[0-9a-z]{1,12}$/.test(exp) || (nonce !== undefined && !noncePattern.test(nonce))) {
      return { ok: false, reason: 'malformed' };
    }
    const expected = Buffer.from(this.mac(parts.slice(0, -1).join('.')));
    const given = Buffer.from(mac);
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) return { ok: false, reason: 'bad-signature' };
    const claims: TokenClaims = { purpose: p as TokenPurpose, subscriberId, expiresAt: parseInt(exp, 36), ...(nonce ? { nonce } : {}) };
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
