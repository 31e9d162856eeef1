/** Postmark's webhook: its body schema, basic auth, freshness check, and the events it carries. */
import crypto from 'node:crypto';
import { z } from 'zod';
import { classifyReason, senderFaultReasons } from '../reason';
import { findReplyCode, findStatus } from '../../mail/status-codes';
import { providerHints, type ProviderEvent } from './provider-event';

/**
 * Postmark webhooks (https://postmarkapp.com/developer/webhooks/webhooks-overview): one record per
 * POST, authenticated by HTTP basic auth in the webhook URL.
 */
export const postmarkBodySchema = z.object({
  RecordType: z.string().min(1),
  ID: z.union([z.number(), z.string()]).optional(),
  Type: z.string().optional(),
  TypeCode: z.number().optional(),
  MessageID: z.string().optional(),
  Email: z.string().optional(),
  Recipient: z.string().optional(),
  Description: z.string().optional(),
  Details: z.string().optional(),
  BouncedAt: z.string().optional(),
  ChangedAt: z.string().optional(),
  ReceivedAt: z.string().optional(),
  DeliveredAt: z.string().optional(),
  SuppressSending: z.boolean().optional(),
  SuppressionReason: z.string().optional(),
  Metadata: z.record(z.string(), z.unknown()).optional(),
}).passthrough();

export type PostmarkBody = z.infer<typeof postmarkBodySchema>;

/** Constant-time check of an Authorization: Basic header. */
export function checkBasicAuth(header: string | undefined, username: string, password: string): boolean {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header ?? '');
  if (!m) return false;
  const given = Buffer.from(m[1] as string, 'base64');
  const expected = Buffer.from(`${username}:${password}`, 'utf8');
  // Hash both so lengths never leak through timingSafeEqual's length check.
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

export type PostmarkCheck = { ok: true } | { ok: false; status: 400 | 401; reason: string };

/** When Postmark says the event happened: BouncedAt (bounces, complaints), ChangedAt (suppression changes), ReceivedAt (opens, clicks), DeliveredAt. */
export function postmarkEventTime(body: PostmarkBody): { field: string; at: Date } | undefined {
  for (const field of ['BouncedAt', 'ChangedAt', 'ReceivedAt', 'DeliveredAt'] as const) {
    const value = body[field];
    if (value === undefined) continue;
    const t = Date.parse(value);
    return Number.isNaN(t) ? undefined : { field, at: new Date(t) };
  }
  return undefined;
}

/**
 * Postmark signs nothing and sends no timestamp header, so the record's own date is the only
 * freshness there is: older (or further ahead) than `maxAgeSeconds` is refused like a stale
 * signature elsewhere. A record that would act but carries no readable date is malformed.
 */
export function checkPostmarkAge(body: PostmarkBody, now: Date, maxAgeSeconds: number): PostmarkCheck {
  const when = postmarkEventTime(body);
  if (!when) return { ok: false, status: 400, reason: 'no readable BouncedAt, ChangedAt or ReceivedAt date' };
  if (Math.abs(now.getTime() - when.at.getTime()) > maxAgeSeconds * 1000) return { ok: false, status: 401, reason: `stale event (${when.field} ${when.at.toISOString()}, more than ${maxAgeSeconds} s from now)` };
  return { ok: true };
}

/** Postmark bounce types: https://postmarkapp.com/developer/api/bounce-api#bounce-types */
const hardTypes = new Set(['HardBounce', 'BadEmailAddress']);
const softTypes = new Set(['SoftBounce', 'DnsError', 'Unknown', 'Undeliverable']);
const blockTypes = new Set(['Blocked', 'SpamNotification', 'DMARCPolicy', 'VirusNotification']);

function dateOr(value: string | undefined, fallback: Date): Date {
  const t = value ? Date.parse(value) : NaN;
  return Number.isNaN(t) ? fallback : new Date(t);
}

export function postmarkEvents(body: PostmarkBody, received: Date): ProviderEvent[] {
  const email = (body.Email ?? body.Recipient ?? '').trim().toLowerCase();
  if (!email) return [];
  const hints = providerHints(undefined, []);
  const key = String(body.ID ?? body.MessageID ?? '');
  switch (body.RecordType) {
    case 'Bounce': {
      const type = body.Type ?? '';
      const diagnostic = [body.Details, body.Description].filter(Boolean).join(' — ');
      const status = findStatus(body.Details);
      const replyCode = findReplyCode(body.Details);
      const at = dateOr(body.BouncedAt, received);
      const common = { source: 'postmark' as const, id: `postmark:bounce:${key}:${email}`, email, at, hints, status, replyCode, diagnostic };
      if (hardTypes.has(type)) return [{ ...common, kind: 'hard', reason: 'userunknown' }];
      if (type === 'Transient') return [{ ...common, kind: 'delayed', reason: 'expired' }];
      if (blockTypes.has(type)) return [{ ...common, kind: 'soft', reason: 'blocked', senderFault: true }];
      if (softTypes.has(type)) {
        const reason = classifyReason({ status, replyCode, diagnostic });
        return [{ ...common, kind: 'soft', reason, senderFault: senderFaultReasons.has(reason) }];
      }
      if (type === 'SpamComplaint') return [{ ...common, kind: 'complaint', feedbackType: 'abuse', reason: 'feedback' }];
      if (type === 'Unsubscribe') return [{ ...common, kind: 'unsubscribe' }];
      // AutoResponder, AddressChange, Subscribe, ManuallyDeactivated, ...: not bounces.
      return [];
    }
    case 'SpamComplaint':
      return [{ source: 'postmark', id: `postmark:complaint:${key}:${email}`, kind: 'complaint', email, at: dateOr(body.BouncedAt, received), hints, feedbackType: 'abuse', reason: 'feedback', diagnostic: body.Description ?? 'spam complaint' }];
    case 'SubscriptionChange': {
      // Postmark's own suppression list changed. ManualSuppression is the reader opting out through
      // Postmark's link; HardBounce and SpamComplaint repeat a Bounce / SpamComplaint record, and
      // count once anyway (editions count each reader once, suppression is idempotent).
      if (!body.SuppressSending) return [];
      const at = dateOr(body.ChangedAt, received);
      const common = { source: 'postmark' as const, id: `postmark:suppression:${key}:${email}:${body.SuppressionReason ?? ''}`, email, at, hints };
      if (body.SuppressionReason === 'ManualSuppression') return [{ ...common, kind: 'unsubscribe', diagnostic: 'unsubscribed through Postmark' }];
      if (body.SuppressionReason === 'HardBounce') return [{ ...common, kind: 'hard', reason: 'userunknown', diagnostic: 'Postmark suppressed the address after a hard bounce' }];
      if (body.SuppressionReason === 'SpamComplaint') return [{ ...common, kind: 'complaint', feedbackType: 'abuse', reason: 'feedback', diagnostic: 'Postmark suppressed the address after a spam complaint' }];
      return [];
    }
    default:
      return [];
  }
}
