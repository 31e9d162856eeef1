/** VERP envelope senders and List-Unsubscribe mailto addresses: one per copy, signed so nobody can forge one. */
import crypto from 'node:crypto';

/**
 * VERP envelope senders: `<local>+<edition>.<subscriber>.<mac>@<bounce domain>`, one per copy,
 * so a DSN names the edition and reader by the address it was sent to, whatever the remote MTA
 * makes of the report. The MAC (HMAC-SHA256 with a key derived from the install secret, 12 hex
 * digits) makes tokens unforgeable: nobody can get a reader suppressed by mailing us a made-up
 * bounce. All lowercase, because some MTAs fold the case of the addresses they bounce to.
 *
 * Edition ids are `<newsletter>-YYYY-MM-DD`; the date's dashes are dropped to keep the local part
 * short (RFC 5321 allows 64 octets: a newsletter id up to 20 characters fits with room to spare).
 */

export interface VerpTarget {
  editionId: string;
  subscriberId: string;
}

export interface VerpSettings {
  secret: string;
  localPart: string;
  domain: string;
}

/** VERP settings of an install, when it has a bounce domain. */
export function verpSettings(config: { secret: string; delivery: { bounceDomain?: string; bounceLocalPart: string } }): VerpSettings | undefined {
  const domain = config.delivery.bounceDomain;
  return domain ? { secret: config.secret, localPart: config.delivery.bounceLocalPart, domain } : undefined;
}

const keys = new Map<string, Buffer>();

function keyFor(secret: string): Buffer {
  let key = keys.get(secret);
  if (!key) {
    // Derived, so the raw secret never signs two different kinds of thing.
    key = crypto.createHmac('sha256', secret).update('daybreak:verp:v1').digest();
    keys.set(secret, key);
  }
  return key;
}

function mac(secret: string, editionId: string, subscriberId: string): string {
  return crypto.createHmac('sha256', keyFor(secret)).update(`${editionId}.${subscriberId}`).digest('hex').slice(0, 12);
}

function compactEdition(editionId: string): string {
  return editionId.replace(/-(\d{4})-(\d{2})-(\d{2})$/, '-$1$2$3');
}

function expandEdition(compact: string): string {
  return compact.replace(/-(\d{4})(\d{2})(\d{2})$/, '-$1-$2-$3');
}

export function verpToken(secret: string, target: VerpTarget): string {
  return `${compactEdition(target.editionId)}.${target.subscriberId}.${mac(secret, target.editionId, target.subscriberId)}`;
}

export function verpAddress(settings: VerpSettings, target: VerpTarget): string {
  return `${settings.localPart}+${verpToken(settings.secret, target)}@${settings.domain.toLowerCase()}`;
}

/** The `<tag>` of `<localPart>+<tag>@<bounce domain>` (any case, lower-cased), or undefined. */
function addressTag(settings: VerpSettings, localPart: string, address: string): string | undefined {
  const a = address.trim().replace(/^<|>$/g, '').toLowerCase();
  const at = a.lastIndexOf('@');
  if (at < 0 || a.slice(at + 1) !== settings.domain.toLowerCase()) return undefined;
  const prefix = `${localPart.toLowerCase()}+`;
  const local = a.slice(0, at);
  return local.startsWith(prefix) ? local.slice(prefix.length) : undefined;
}

export type VerpCheck = { ok: true; target: VerpTarget } | { ok: false; reason: 'not-verp' | 'malformed' | 'bad-signature' };

/** Reads and verifies a VERP address (any case). */
export function parseVerpAddress(settings: VerpSettings, address: string): VerpCheck {
  const tag = addressTag(settings, settings.localPart, address);
  if (tag === undefined) return { ok: false, reason: 'not-verp' };
  const m = /^([a-z0-9][a-z0-9-]*-\d{8})\.(\d{1,15})\.([0-9a-f]{12})$/.exec(tag);
  if (!m) return { ok: false, reason: 'malformed' };
  const editionId = expandEdition(m[1] as string);
  const subscriberId = m[2] as string;
  const expected = Buffer.from(mac(settings.secret, editionId, subscriberId));
  const given = Buffer.from(m[3] as string);
  if (!crypto.timingSafeEqual(expected, given)) return { ok: false, reason: 'bad-signature' };
  return { ok: true, target: { editionId, subscriberId } };
}

/** Every verified VERP address anywhere in a text (a returned message's headers, an ARF report). */
export function findVerpTargets(settings: VerpSettings, text: string): VerpTarget[] {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const re = new RegExp(`${escape(settings.localPart)}\\+[a-z0-9.-]+@${escape(settings.domain)}`, 'gi');
  const found = new Map<string, VerpTarget>();
  for (const m of text.matchAll(re)) {
    const check = parseVerpAddress(settings, m[0]);
    if (check.ok) found.set(`${check.target.editionId}.${check.target.subscriberId}`, check.target);
  }
  return [...found.values()];
}

/**
 * The per-reader `mailto:` for List-Unsubscribe, read by the bounce server:
 * `unsubscribe+<subscriber>.<mac>@<bounce domain>`. Its own MAC key, so neither a VERP address
 * nor any other token can be turned into an unsubscribe address.
 */
export const unsubscribeLocalPart = 'unsubscribe';

function unsubscribeMac(secret: string, subscriberId: string): string {
  return crypto.createHmac('sha256', keyFor(secret)).update(`unsubscribe-mailto:${subscriberId}`).digest('hex').slice(0, 16);
}

export function unsubscribeMailtoAddress(settings: VerpSettings, subscriberId: string): string {
  return `${unsubscribeLocalPart}+${subscriberId}.${unsubscribeMac(settings.secret, subscriberId)}@${settings.domain.toLowerCase()}`;
}

export type UnsubscribeAddressCheck = { ok: true; subscriberId: string } | { ok: false; reason: 'not-unsubscribe' | 'malformed' | 'bad-signature' };

/** Reads and verifies an unsubscribe address (any case). */
export function parseUnsubscribeAddress(settings: VerpSettings, address: string): UnsubscribeAddressCheck {
  const tag = addressTag(settings, unsubscribeLocalPart, address);
  if (tag === undefined) return { ok: false, reason: 'not-unsubscribe' };
  const m = /^(\d{1,15})\.([0-9a-f]{16})$/.exec(tag);
  if (!m) return { ok: false, reason: 'malformed' };
  const subscriberId = m[1] as string;
  const expected = Buffer.from(unsubscribeMac(settings.secret, subscriberId));
  if (!crypto.timingSafeEqual(expected, Buffer.from(m[2] as string))) return { ok: false, reason: 'bad-signature' };
  return { ok: true, subscriberId };
}
