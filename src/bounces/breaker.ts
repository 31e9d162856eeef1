/** The bounce circuit breaker: when an edition's hard-bounce or complaint rate says stop (pure). */
import type { BouncesConfig } from '../config/bounces-schema';
import type { Edition } from '../delivery/edition';

/** The evidence behind a trip, kept in the edition's history. */
export interface BreakerTrip {
  reason: string;
  evidence: { attempted: number; hardBounces: number; blocked: number; complaints: number };
}

const pct = (r: number) => `${(r * 100).toFixed(r < 0.01 ? 2 : 1)}%`;

/**
 * Whether a sending edition should pause: its hard-bounce (plus blocking) or complaint rate passed
 * its threshold once enough sends were attempted. It trips once per edition: after ops resume it,
 * the same numbers do not pause it again.
 */
export function breakerTrip(edition: Pick<Edition, 'state' | 'breakerTrippedAt' | 'sent' | 'failed' | 'bouncedHard' | 'blocked' | 'complaints'>, settings: BouncesConfig['breaker']): BreakerTrip | undefined {
  if (!settings.enabled || edition.state !== 'sending' || edition.breakerTrippedAt) return undefined;
  const attempted = edition.sent + edition.failed;
  if (attempted < settings.minSends) return undefined;
  const bad = edition.bouncedHard + edition.blocked;
  const bounceRate = bad / attempted;
  const complaintRate = edition.complaints / attempted;
  const evidence = { attempted, hardBounces: edition.bouncedHard, blocked: edition.blocked, complaints: edition.complaints };
  if (bounceRate > settings.bounceRate) {
    return { evidence, reason: `circuit breaker: hard-bounce rate ${pct(bounceRate)} (${bad} of ${attempted} sends, blocks included) passed ${pct(settings.bounceRate)}; check the last import and the blocklists before resuming` };
  }
  if (complaintRate > settings.complaintRate) {
    return { evidence, reason: `circuit breaker: complaint rate ${pct(complaintRate)} (${edition.complaints} of ${attempted} sends) passed ${pct(settings.complaintRate)}; check where these readers came from before resuming` };
  }
  return undefined;
}
