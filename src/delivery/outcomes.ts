/** What happens to each copy, published by the send processor for whoever listens (metrics, bounces). */
import type { SmtpFailure } from '../mail/transports/failure';

/** A send failure as the transport reported it (see mail/transports/failure.ts). */
export type FailureDetail = SmtpFailure;

export interface SendOutcomeEvents {
  sent: { editionId: string; newsletterId: string; subscriberId: string; email: string; messageId: string; ms: number };
  /** Settled as failed for good: `failure` is the transport's report (absent when the message could not be built). */
  failed: { editionId: string; newsletterId: string; subscriberId: string; email: string; diagnostic: string; permanent: boolean; failure?: FailureDetail; at: Date };
  skipped: { editionId: string; newsletterId: string; subscriberId: string; reason: string };
  /** The send window closed while the relay was unreachable: these readers were failed together (no reader is at fault). */
  'cut-off': { editionId: string; newsletterId: string; readers: number; reason: string };
}

type Handler<K extends keyof SendOutcomeEvents> = (event: SendOutcomeEvents[K]) => void | Promise<void>;

/**
 * Delivery publishes, other modules subscribe: the bounce side hears of a 5xx at send time without
 * delivery importing it. `publish` waits for the subscribers, so a refusal is recorded before the
 * send job completes; a subscriber's error is logged, never the send's failure.
 */
export class SendOutcomes {
  private readonly handlers: { [K in keyof SendOutcomeEvents]: Array<Handler<K>> } = { sent: [], failed: [], skipped: [], 'cut-off': [] };

  constructor(private readonly logger?: { error(detail: Record<string, unknown>, message: string): void }) {}

  subscribe<K extends keyof SendOutcomeEvents>(kind: K, handler: Handler<K>): void {
    this.handlers[kind].push(handler);
  }

  async publish<K extends keyof SendOutcomeEvents>(kind: K, event: SendOutcomeEvents[K]): Promise<void> {
    const handlers = this.handlers[kind];
    for (const handler of handlers) {
      try {
        await handler(event);
      } catch (error) {
        this.logger?.error({ err: error, editionId: event.editionId, subscriberId: 'subscriberId' in event ? event.subscriberId : undefined, outcome: kind }, 'a send-outcome subscriber failed; the send itself is settled');
      }
    }
  }
}
