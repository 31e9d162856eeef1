/** Until when an edition's sends may be retried (pure): its send window, and the retry schedule inside it. */
import { DateTime } from 'luxon';
import type { DeliveryConfig, NewsletterConfig } from '../config/schema';
import type { Edition } from './edition';

/** How long sends may be retried: `delivery.retryWindowHours` when set, else the newsletter's `sendWindowHours`. */
export function retryWindowMs(delivery: Pick<DeliveryConfig, 'retryWindowHours'>, newsletter: Pick<NewsletterConfig, 'sendWindowHours'>): number {
  return (delivery.retryWindowHours ?? newsletter.sendWindowHours) * 3_600_000;
}

/**
 * When the edition's send window closes: the window after its slot, as the scheduler's staleness
 * guard reads it. An edition that started after that (ops ran or forced it late) gets the same
 * length of window from its start instead, or its first failure would be its last.
 */
export function sendWindowCloses(edition: Pick<Edition, 'scheduledFor' | 'startedAt'>, windowMs: number): Date {
  const fromSlot = edition.scheduledFor.getTime() + windowMs;
  const started = edition.startedAt?.getTime() ?? edition.scheduledFor.getTime();
  return new Date(started > fromSlot ? started + windowMs : fromSlot);
}

/**
 * Tries a send job gets: enough to keep retrying at the capped backoff for the whole window (the
 * window, not this count, ends the retries; the count is BullMQ's safety net).
 */
export function sendAttempts(delivery: Pick<DeliveryConfig, 'backoffMs' | 'retryBackoffMaxMs'>, windowMs: number): number {
  const rampUp = Math.ceil(Math.log2(Math.max(1, delivery.retryBackoffMaxMs / delivery.backoffMs))) + 1;
  // The shortest capped wait (jitter takes up to a fifth off) sets how many tries the window holds.
  return Math.max(10, rampUp + Math.ceil(windowMs / (0.8 * delivery.retryBackoffMaxMs)) + 2);
}

/** Exponential from `backoffMs`, capped at `retryBackoffMaxMs`, with ±20% jitter so a crowd of retries spreads out. */
export function retryDelayMs(delivery: Pick<DeliveryConfig, 'backoffMs' | 'retryBackoffMaxMs'>, attemptsMade: number, random: () => number = Math.random): number {
  const exponential = delivery.backoffMs * 2 ** Math.max(0, Math.min(30, attemptsMade - 1));
  const capped = Math.min(delivery.retryBackoffMaxMs, exponential);
  return Math.max(1, Math.round(capped * (0.8 + 0.4 * random())));
}

/** The backoff type send jobs name; the send workers implement it (BullMQ's custom backoff strategy). */
export const sendBackoffType = 'daybreak-capped';

/** "2026-11-24 09:00 GMT", in the newsletter's own zone: how ops read the window's end. */
export function formatWindowEnd(at: Date, timeZone: string): string {
  return DateTime.fromJSDate(at, { zone: timeZone }).setLocale('en-GB').toFormat('yyyy-LL-dd HH:mm ZZZZ');
}
