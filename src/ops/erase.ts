/** Erasure, a reader's right to be forgotten: each owner forgets what it holds about the address. */
import type { LoadedConfig } from '../config/load';
import type { BounceStore } from '../bounces/bounce-store';
import { normaliseEmail } from '../subscribers/email';
import type { SubscriberStore } from '../subscribers/store';

export interface EraseDeps {
  subscribers: Pick<SubscriberStore, 'records' | 'membership' | 'signups' | 'consentLog' | 'suppressions'>;
  bounces: Pick<BounceStore, 'forgetAddress'>;
  config: Pick<LoadedConfig, 'newsletters'>;
}

/**
 * Deletes the record, its history, consent log, pending sign-up, newsletter memberships, index
 * entry, and every bounce record naming the address; the address stays on the suppression list
 * by its keyed hash alone, so it is never imported or signed up again.
 */
export async function forgetReader(deps: EraseDeps, email: string, options: { now: Date; source: string }): Promise<{ id?: string }> {
  const normalised = normaliseEmail(email);
  const { records, membership, signups, consentLog, suppressions } = deps.subscribers;
  await suppressions.suppressErased(normalised, options.now, options.source);
  await deps.bounces.forgetAddress(normalised);
  const id = await records.findIdByEmail(normalised);
  if (!id) return {};
  const reader = await records.get(id);
  await membership.forget(id, [...deps.config.newsletters.map((n) => n.id), ...(reader?.newsletters ?? [])]);
  await signups.forget(id);
  await consentLog.forget(id);
  await records.forget(id, normalised);
  return { id };
}
