/** Applies the events of one authentic webhook request, in order; the same event delivered twice counts once. */
import type { RecordOutcome } from '../events';
import type { BouncePolicy } from '../policy';
import type { ProviderEvent } from './provider-event';

export interface WebhookSummary {
  recorded: number;
  duplicates: number;
  outcomes: RecordOutcome[];
}

export async function recordProviderEvents(policy: Pick<BouncePolicy, 'record'>, events: ProviderEvent[]): Promise<WebhookSummary> {
  const outcomes: RecordOutcome[] = [];
  for (const event of events) outcomes.push(await policy.record(event));
  return { recorded: outcomes.filter((o) => !o.duplicate).length, duplicates: outcomes.filter((o) => o.duplicate).length, outcomes };
}
