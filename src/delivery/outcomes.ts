/** What happens to each copy, published by the send processor for whoever listens (metrics, bounces). */
import type { SmtpCommand } from '../mail/transports/transport';

/** A send failure as the transport reported it (see mail/transports). */
export interface FailureDetail {
  kind: 'permanent' | 'transient' | 'connection';
  replyCode?: number;
  /** RFC 3463 enhanced status, e.g. "5.1.1". */
  status?: string;
  diagnostic: string;
  command?: SmtpCommand;
}

export interface SendOutcomeEvents {
  sent: { editionId: string; newsletterId: string; subscriberId: string; email: string; messageId: string; ms: number };
  /** Settled as failed for good: `failure` is the transport's report (absent when the message could not be built). */
  failed: { editionId: string; newsletterId: string; subscriberId: string; email: string; diagnostic: string; permanent: boolean; failure?: FailureDetail; at: Date };
  skipped: { editionId: string; newsletterId: string; subscriberId: string; reason: string };
}

type Handler<K extends keyof SendOutcomeEvents> = (event: SendOutcomeEvents[K]) => void | Promise<void>;

/**
 * Delivery publishes, other modules subscribe: the bounce side hears of a 5xx at send time without
 * delivery importing it. `publish` waits for the subscribers, so a refusal is recorded before the
 * send job completes; a subscriber's error is logged, never the send's failure.
 */
export class SendOutcomes {
  private readonly handlers: { [K in keyof SendOutcomeEvents]: Array<Handler<K>> } = { sent: [], failed: [], skipped: [] };

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
        this.logger?.error({ err: error, editionId: event.editionId, subscriberId: event.subscriberId, outcome: kind }, 'a send-outcome subscriber failed; the send itself is settled');
      }
    }
  }
}
