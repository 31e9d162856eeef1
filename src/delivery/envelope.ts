import type { DaybreakConfig, NewsletterConfig } from '../config/schema';

/** The bare address inside a From value like `Daybreak National <national@daybreak.example>`. */
export function addressOf(mailbox: string): string {
  const m = /<([^>]+)>\s*$/.exec(mailbox);
  return (m ? m[1] : mailbox).trim();
}

/**
 * MAIL FROM for one copy: where bounces go. Without a bounce domain it is the From address;
 * the bounces module gives each copy its own VERP address when a bounce domain is configured.
 */
export function envelopeSender(_config: DaybreakConfig, newsletter: NewsletterConfig, _editionId: string, _subscriberId: string): string {
  return addressOf(newsletter.from);
}
