/** Per-reader values of a copy: links, Message-ID, the List-Unsubscribe mailto. */
import crypto from 'node:crypto';
import type { MessageValues } from '../render/contract';
import { greetingFor } from '../render/slots';

export { greetingFor } from '../render/slots';
import { unsubscribeMailtoAddress, verpSettings, type VerpSettings } from './verp';
import type { TokenSigner } from './tokens';
import { publicLink } from './addresses';


/**
 * A reader's unsubscribe link. In an edition's copy it also names the edition, signed for that
 * reader (`?e=`), so the edition's report can count the unsubscribes it caused; the one-click
 * POST a mail provider makes to the List-Unsubscribe URL carries it too.
 */
export function unsubscribeUrl(publicUrl: string, signer: TokenSigner, subscriberId: string, editionId?: string): string {
  // Unsubscribe links never expire: people unsubscribe from emails weeks old.
  const token = signer.sign({ purpose: 'unsubscribe', subscriberId, expiresAt: 0 });
  const ref = editionId ? `?e=${signer.editionLinks.editionRef(editionId, subscriberId)}` : '';
  return publicLink(publicUrl, `/unsubscribe/${token}${ref}`);
}

export function preferencesUrl(publicUrl: string, signer: TokenSigner, subscriberId: string): string {
  return publicLink(publicUrl, `/preferences/${signer.sign({ purpose: 'preferences', subscriberId, expiresAt: 0 })}`);
}

/** Message-IDs name the edition and reader (bounce attribution reads them back) plus a nonce per copy. */
export function messageIdFor(editionId: string, subscriberId: string, domain: string, nonce: string): string {
  return `<${editionId}.${subscriberId}.${nonce}@${domain}>`;
}

const messageIdPattern = /^<?([a-z0-9][a-z0-9-]*-\d{4}-\d{2}-\d{2})\.(\d+)\.([A-Za-z0-9_-]+)@[^>]+>?$/;

export function parseMessageId(messageId: string): { editionId: string; subscriberId: string } | undefined {
  const m = messageIdPattern.exec(messageId.trim());
  return m ? { editionId: m[1] as string, subscriberId: m[2] as string } : undefined;
}

const nonceKeys = new Map<string, Buffer>();

/**
 * The nonce of a copy's Message-ID: an HMAC of edition and reader under a key derived from the
 * install secret, 12 characters (72 bits). Derived, not random, so the ledger need not keep the
 * Message-ID: a compacted edition keeps one bit per reader, and a bounce quoting the Message-ID
 * is checked by deriving it again (nobody without the secret can make one for another reader).
 */
export function messageNonce(secret: string, editionId: string, subscriberId: string): string {
  let key = nonceKeys.get(secret);
  if (!key) {
    key = crypto.createHmac('sha256', secret).update('daybreak:message-id:v1').digest();
    nonceKeys.set(secret, key);
  }
  return crypto.createHmac('sha256', key).update(`${editionId}.${subscriberId}`).digest('base64url').slice(0, 12);
}

/** True when the Message-ID is one we derive for its edition and reader (see messageNonce). */
export function isDerivedMessageId(secret: string, messageId: string): boolean {
  const m = messageIdPattern.exec(messageId.trim());
  if (!m) return false;
  const given = Buffer.from(m[3] as string);
  const expected = Buffer.from(messageNonce(secret, m[1] as string, m[2] as string));
  return given.length === expected.length && crypto.timingSafeEqual(given, expected);
}

/**
 * The mailbox that reads List-Unsubscribe mailto requests: the bounce server, when it runs and
 * has a domain. Without one, emails list only the https link (a mailto nobody reads would lie).
 */
export function unsubscribeMailbox(config: { secret: string; delivery: { bounceDomain?: string; bounceLocalPart: string }; bounces: { server: { enabled: boolean } } }): VerpSettings | undefined {
  return config.bounces.server.enabled ? verpSettings(config) : undefined;
}

/** Everything that differs between two readers' copies of an edition. */
export function messageValues(input: {
  publicUrl: string;
  signer: TokenSigner;
  subscriberId: string;
  email: string;
  name?: string;
  messageId: string;
  date: Date;
  /** Where a per-reader mailto unsubscribe goes, when the edition lists one. */
  mailbox?: VerpSettings;
}): MessageValues {
  // An edition copy's Message-ID names its edition (messageIdFor), so its unsubscribe link can too.
  const editionId = parseMessageId(input.messageId)?.editionId;
  const { signer, subscriberId } = input;
  return {
    ...(input.mailbox ? { unsubscribeMailto: `mailto:${unsubscribeMailtoAddress(input.mailbox, input.subscriberId)}?subject=unsubscribe` } : {}),
    to: { email: input.email, name: input.name },
    messageId: input.messageId,
    date: input.date,
    greeting: greetingFor(input.name),
    email: input.email,
    unsubscribeUrl: unsubscribeUrl(input.publicUrl, input.signer, input.subscriberId, editionId),
    preferencesUrl: preferencesUrl(input.publicUrl, input.signer, input.subscriberId),
    // Signed only when the edition carries the slot (a newsletter's per-reader click opt-in).
    get readerRef(): string {
      return `?u=${signer.editionLinks.readerRef(subscriberId)}`;
    },
  };
}
