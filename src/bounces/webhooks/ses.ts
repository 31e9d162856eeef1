/** Amazon SES notifications (inside SNS messages): their schema and the events they carry. */
import { z } from 'zod';
import { classifyReason, isHardReason, senderFaultReasons } from '../reason';
import { bareAddress, providerHints, type ProviderEvent } from './provider-event';

/**
 * Amazon SES notifications (notificationType) and event publishing (eventType): bounces,
 * complaints, delivery delays and subscription (unsubscribe) events become ProviderEvents; sends,
 * deliveries, opens and clicks are ignored.
 */
const recipient = z.object({ emailAddress: z.string().min(3).max(320) }).passthrough();

const header = z.object({ name: z.string(), value: z.string() });

export const sesBodySchema = z.object({
  notificationType: z.string().optional(),
  eventType: z.string().optional(),
  mail: z.object({
    messageId: z.string().optional(),
    source: z.string().optional(),
    destination: z.array(z.string()).optional(),
    headers: z.array(header).optional(),
    commonHeaders: z.object({ messageId: z.string().optional() }).passthrough().optional(),
  }).passthrough().optional(),
  bounce: z.object({
    bounceType: z.enum(['Permanent', 'Transient', 'Undetermined']),
    bounceSubType: z.string().optional(),
    bouncedRecipients: z.array(recipient.extend({ action: z.string().optional(), status: z.string().optional(), diagnosticCode: z.string().optional() })).min(1),
    timestamp: z.string().optional(),
    feedbackId: z.string().min(1),
  }).passthrough().optional(),
  complaint: z.object({
    complainedRecipients: z.array(recipient).min(1),
    complaintFeedbackType: z.string().nullable().optional(),
    complaintSubType: z.string().nullable().optional(),
    timestamp: z.string().optional(),
    feedbackId: z.string().min(1),
  }).passthrough().optional(),
  deliveryDelay: z.object({
    delayType: z.string().optional(),
    delayedRecipients: z.array(recipient.extend({ status: z.string().optional(), diagnosticCode: z.string().optional() })).min(1),
    timestamp: z.string().optional(),
  }).passthrough().optional(),
  subscription: z.object({
    source: z.string().optional(),
    timestamp: z.string().optional(),
    newTopicPreferences: z.object({ unsubscribeAll: z.boolean().optional() }).passthrough().optional(),
  }).passthrough().optional(),
}).passthrough().refine((b) => b.notificationType || b.eventType, 'neither notificationType nor eventType');

export type SesBody = z.infer<typeof sesBodySchema>;

function hints(body: SesBody): ProviderEvent['hints'] {
  const ids = [body.mail?.commonHeaders?.messageId, ...(body.mail?.headers ?? []).filter((h) => /^message-id$/i.test(h.name)).map((h) => h.value)].filter((v): v is string => Boolean(v));
  return providerHints(bareAddress(body.mail?.source), [...new Set(ids)]);
}

function dateOr(value: string | undefined, fallback: Date): Date {
  const t = value ? Date.parse(value) : NaN;
  return Number.isNaN(t) ? fallback : new Date(t);
}

/** Events in one SES body; `received` is when we got it (the timestamp when the body has none). */
export function sesEvents(body: SesBody, received: Date): ProviderEvent[] {
  const type = (body.notificationType ?? body.eventType ?? '').toLowerCase();
  const common = { source: 'ses' as const, hints: hints(body) };
  const messageKey = body.mail?.messageId ?? 'unknown';
  if (type === 'bounce' && body.bounce) {
    const b = body.bounce;
    const at = dateOr(b.timestamp, received);
    return b.bouncedRecipients.flatMap((r): ProviderEvent[] => {
      const diagnostic = (r.diagnosticCode ?? '').replace(/^smtp;\s*/i, '');
      // SES passes on auto-replies (out of office) as a Transient/General bounce with no status: not a bounce.
      if (b.bounceType === 'Transient' && (b.bounceSubType ?? 'General') === 'General' && !r.status && !diagnostic) return [];
      const reason = b.bounceSubType === 'MailboxFull' ? 'mailboxfull' : b.bounceSubType === 'MessageTooLarge' ? 'mesgtoobig'
        : /^(?:Suppressed|OnAccountSuppressionList)$/.test(b.bounceSubType ?? '') ? 'userunknown'
          : b.bounceSubType === 'NoEmail' ? 'userunknown' : classifyReason({ status: r.status, diagnostic, action: r.action });
      // Permanent with an address-level reason is hard; SES's own suppression lists are too (they hold past hard bounces).
      const hard = b.bounceType === 'Permanent' && (isHardReason(reason, r.status) || /^(?:General|NoEmail|Suppressed|OnAccountSuppressionList)$/.test(b.bounceSubType ?? '') && !senderFaultReasons.has(reason) && reason !== 'mailboxfull');
      return [{
        ...common, id: `ses:${b.feedbackId}:${r.emailAddress.toLowerCase()}`, kind: hard ? 'hard' : 'soft', email: r.emailAddress.toLowerCase(), at,
        status: r.status, diagnostic: diagnostic || `${b.bounceType}/${b.bounceSubType ?? ''}`, reason: hard && reason === 'undefined' ? 'userunknown' : reason, senderFault: senderFaultReasons.has(reason),
      }];
    });
  }
  if (type === 'complaint' && body.complaint) {
    const c = body.complaint;
    // "not-spam" is a reader taking a message OUT of spam: no complaint at all.
    if (c.complaintFeedbackType === 'not-spam') return [];
    const at = dateOr(c.timestamp, received);
    return c.complainedRecipients.map((r) => ({
      ...common, id: `ses:${c.feedbackId}:${r.emailAddress.toLowerCase()}`, kind: 'complaint' as const, email: r.emailAddress.toLowerCase(), at,
      feedbackType: c.complaintFeedbackType ?? 'abuse', diagnostic: `complaint (${c.complaintFeedbackType ?? 'no feedback type'})`, reason: 'feedback',
    }));
  }
  if (type === 'deliverydelay' && body.deliveryDelay) {
    const d = body.deliveryDelay;
    const at = dateOr(d.timestamp, received);
    return d.delayedRecipients.map((r) => ({
      ...common, id: `ses:delay:${messageKey}:${r.emailAddress.toLowerCase()}:${d.timestamp ?? ''}`, kind: 'delayed' as const, email: r.emailAddress.toLowerCase(), at,
      status: r.status, diagnostic: (r.diagnosticCode ?? d.delayType ?? '').replace(/^smtp;\s*/i, ''), reason: d.delayType,
    }));
  }
  if (type === 'subscription' && body.subscription?.newTopicPreferences?.unsubscribeAll) {
    const at = dateOr(body.subscription.timestamp, received);
    return (body.mail?.destination ?? []).map((email) => ({
      ...common, id: `ses:unsub:${messageKey}:${bareAddress(email)}`, kind: 'unsubscribe' as const, email: bareAddress(email), at, diagnostic: `unsubscribed (${body.subscription?.source ?? 'SES'})`,
    }));
  }
  return [];
}
