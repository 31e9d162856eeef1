import { parseMessageId } from '../../mail/personalise';
import type { Runtime } from '../../app/runtime';
import type { BounceEvent, RecordOutcome } from '../events';
import { BouncePolicy } from '../policy';
import { parseVerpAddress, verpSettings } from '../../mail/verp';
import type { ProviderEvent } from './provider-event';

/**
 * A provider's event with its edition and reader: our VERP envelope sender when the provider
 * passes it back, then our Message-ID (checked against the ledger by the policy), then the address.
 */
export function attributeProviderEvent(runtime: Runtime, event: ProviderEvent): BounceEvent {
  const { hints, ...rest } = event;
  const settings = verpSettings(runtime.config);
  if (settings && hints.envelopeFrom) {
    const check = parseVerpAddress(settings, hints.envelopeFrom);
    if (check.ok) return { ...rest, ...check.target, attribution: 'verp' };
  }
  for (const id of hints.messageIds) {
    const parsed = parseMessageId(id);
    if (parsed) return { ...rest, ...parsed, messageId: id.startsWith('<') ? id : `<${id}>`, attribution: 'message-id' };
  }
  return { ...rest, attribution: 'address' };
}

export interface WebhookSummary {
  recorded: number;
  duplicates: number;
  outcomes: RecordOutcome[];
}

/** Applies a webhook's events in order; the same event delivered twice counts once. */
export async function recordProviderEvents(runtime: Runtime, events: ProviderEvent[]): Promise<WebhookSummary> {
  const policy = new BouncePolicy(runtime);
  const outcomes: RecordOutcome[] = [];
  for (const event of events) outcomes.push(await policy.record(attributeProviderEvent(runtime, event)));
  return { recorded: outcomes.filter((o) => !o.duplicate).length, duplicates: outcomes.filter((o) => o.duplicate).length, outcomes };
}
