import type { BounceEvent } from '../events';

/**
 * An event as a provider reported it, before attribution: the BounceEvent fields plus the clues
 * the provider passed back (our envelope sender, which is a VERP address when one is configured,
 * and our Message-ID), which the webhook route turns into an edition and a reader.
 */
export interface ProviderEvent extends Omit<BounceEvent, 'editionId' | 'subscriberId' | 'attribution' | 'messageId'> {
  hints: {
    envelopeFrom?: string;
    messageIds: string[];
  };
}

/** The bare address in "Name <a@b>" or "a@b". */
export function bareAddress(value: string | undefined): string {
  if (!value) return '';
  const m = /<([^<>]+@[^<>]+)>/.exec(value);
  return (m ? (m[1] as string) : value).trim().toLowerCase();
}
