/** What ESP webhooks yield: bounce events with the clues the provider passed back, and an address helper. */
import { addressOf } from '../../mail/addresses';
import type { BounceEvent } from '../events';

/**
 * An event as a provider reported it: the clues it passed back (our envelope sender, a VERP
 * address when one is configured; our Message-ID) are its hints, attributed like any other way in.
 */
export type ProviderEvent = BounceEvent;

/** The hints from a provider's envelope sender and Message-IDs. */
export function providerHints(envelopeFrom: string | undefined, messageIds: string[]): BounceEvent['hints'] {
  return { verpAddresses: envelopeFrom ? [envelopeFrom] : [], messageIds };
}

/** The bare address in "Name <a@b>" or "a@b". */
export function bareAddress(value: string | undefined): string {
  return value ? addressOf(value).toLowerCase() : '';
}
