/** Which reader and edition a bounce is about: one function for every way in (SMTP reply, DSN, webhook). */
import type { EditionStore } from '../delivery/edition-store';
import { isDerivedMessageId, parseMessageId } from '../mail/personalise';
import { parseVerpAddress, verpSettings } from '../mail/verp';
import type { SubscriberStore } from '../subscribers/store';
import type { Attributed, Attribution, BounceEvent } from './events';

export interface AttributionDeps {
  editions: Pick<EditionStore, 'ledgerEntry' | 'idsScheduledBefore'>;
  subscribers: Pick<SubscriberStore, 'get' | 'findIdByEmail'>;
  config: { secret: string; delivery: { bounceDomain?: string; bounceLocalPart: string } };
}

/** How many recent editions to look through for the one a bounce without other attribution belongs to. */
const recentEditionsToSearch = 10;

const bracketed = (id: string) => (id.trim().startsWith('<') ? id.trim() : `<${id.trim()}>`);

/**
 * The copy the hints prove, strongest first: the send itself; a VERP address whose MAC checks
 * (nobody can forge one for another reader); one of our Message-IDs, but only when the ledger shows
 * a copy was sent to that reader and the ID is that copy's: its nonce derived from edition, reader
 * and secret (mail/personalise.ts), or, for copies sent before nonces were derived, the ID the
 * ledger kept. A compacted ledger keeps only a sent bit, which the derived nonce is checked against.
 */
async function provenCopy(deps: AttributionDeps, event: BounceEvent): Promise<{ editionId: string; subscriberId: string; attribution: Attribution } | undefined> {
  const { hints } = event;
  if (hints.send) return { ...hints.send, attribution: 'send' };
  const settings = verpSettings(deps.config);
  if (settings) {
    for (const address of hints.verpAddresses) {
      const check = parseVerpAddress(settings, address);
      if (check.ok) return { ...check.target, attribution: 'verp' };
    }
  }
  for (const id of hints.messageIds) {
    const parsed = parseMessageId(id);
    if (!parsed) continue;
    const entry = await deps.editions.ledgerEntry(parsed.editionId, parsed.subscriberId);
    if (entry?.kind === 'sent' && (isDerivedMessageId(deps.config.secret, id) || entry.detail === bracketed(id))) return { ...parsed, attribution: 'message-id' };
  }
  return undefined;
}

/** The newest of the recent editions whose ledger shows a copy sent to the reader before `at`. */
async function recentEditionSentTo(deps: AttributionDeps, subscriberId: string, at: Date): Promise<string | undefined> {
  for (const id of await deps.editions.idsScheduledBefore(at, recentEditionsToSearch)) {
    const entry = await deps.editions.ledgerEntry(id, subscriberId);
    if (entry?.kind === 'sent' && (entry.at?.getTime() ?? Infinity) <= at.getTime() + 60_000) return id;
  }
  return undefined;
}

/**
 * Whom the event is about. A proven copy names the reader (by their own record's address, whatever
 * the report wrote); otherwise the address finds the reader, and the newest recent edition that was
 * sent to them (`recent-send`); an address nobody has is `none`.
 */
export async function attribute(deps: AttributionDeps, event: BounceEvent): Promise<Attributed> {
  const copy = await provenCopy(deps, event);
  if (copy) {
    const reader = await deps.subscribers.get(copy.subscriberId);
    if (reader) return { email: reader.email, subscriberId: copy.subscriberId, editionId: copy.editionId, attribution: copy.attribution };
  }
  // No proven copy, or its reader has been erased since: the address is all there is.
  const email = event.email.trim().toLowerCase();
  const subscriberId = await deps.subscribers.findIdByEmail(email);
  if (!subscriberId) return { email, attribution: 'none', editionId: copy?.editionId };
  if (copy) return { email, subscriberId, editionId: copy.editionId, attribution: copy.attribution };
  const editionId = await recentEditionSentTo(deps, subscriberId, event.at);
  return { email, subscriberId, editionId, attribution: editionId ? 'recent-send' : 'address' };
}
