/** Erasure, a reader's right to be forgotten: each owner forgets what it holds about the address. */
import type { LoadedConfig } from '../config/load';
import type { BounceStore } from '../bounces/bounce-store';
import { normaliseEmail } from '../subscribers/email';
import type { SubscriberStore } from '../subscribers/store';
import type { EditionStore } from '../delivery/edition-store';
import type { ClickStore } from './click-store';

export interface EraseDeps {
  subscribers: Pick<SubscriberStore, 'records' | 'membership' | 'signups' | 'consentLog' | 'suppressions' | 'welcomes'>;
  bounces: Pick<BounceStore, 'forgetAddress'>;
  /** Per-reader click records exist only in newsletters that opted in; their editions are asked. */
  clicks: Pick<ClickStore, 'forgetReader'>;
  editions: Pick<EditionStore, 'list'>;
  config: Pick<LoadedConfig, 'newsletters'>;
}

/**
 * Deletes the record, its history, consent log, pending sign-up, newsletter memberships, index
 * entry, a welcome still owed, per-reader click records (in newsletters that opted in to them),
 * and every bounce record naming the address; the address stays on the suppression list
 * by its keyed hash alone, so it is never imported or signed up again.
 */
export async function forgetReader(deps: EraseDeps, email: string, options: { now: Date; source: string }): Promise<{ id?: string }> {
  const normalised = normaliseEmail(email);
  const { records, membership, signups, consentLog, suppressions, welcomes } = deps.subscribers;
  await suppressions.suppressErased(normalised, options.now, options.source);
  await deps.bounces.forgetAddress(normalised);
  const id = await records.findIdByEmail(normalised);
  if (!id) return {};
  const reader = await records.get(id);
  await membership.forget(id, [...deps.config.newsletters.map((n) => n.id), ...(reader?.newsletters ?? [])], reader?.timezone);
  await signups.forget(id);
  await consentLog.forget(id);
  await welcomes.forget(id);
  for (const newsletter of deps.config.newsletters.filter((n) => n.clicks.perReader)) {
    await deps.clicks.forgetReader((await deps.editions.list(newsletter.id, 1000)).map((e) => e.id), id);
  }
  await records.forget(id, normalised);
  return { id };
}
