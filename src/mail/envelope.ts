/** The envelope sender (MAIL FROM) of each copy: a VERP address, or the From address. */
import type { NewsletterConfig } from '../config/schema';
import { addressOf } from './addresses';
import { verpAddress } from './verp';

export { addressOf } from './addresses';

/**
 * MAIL FROM for one copy: where bounces go. With a bounce domain configured each copy gets its
 * own VERP address naming the edition and reader (see src/bounces/verp.ts); without one it is
 * the From address, and bounces are attributed by Message-ID instead.
 */
export function envelopeSender(config: { secret: string; delivery: { bounceDomain?: string; bounceLocalPart: string } }, newsletter: Pick<NewsletterConfig, 'from'>, editionId: string, subscriberId: string): string {
  const domain = config.delivery.bounceDomain;
  if (!domain) return addressOf(newsletter.from);
  return verpAddress({ secret: config.secret, localPart: config.delivery.bounceLocalPart, domain }, { editionId, subscriberId });
}
