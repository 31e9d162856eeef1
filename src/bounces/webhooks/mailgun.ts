/** Mailgun's webhook: its body schema, signature and freshness check, and the events it carries. */
import crypto from 'node:crypto';
import { z } from 'zod';
import { classifyReason, isHardReason, senderFaultReasons } from '../reason';
import { findStatus } from '../../mail/status-codes';
import { bareAddress, providerHints, type ProviderEvent } from './provider-event';

/**
 * Mailgun webhooks (https://documentation.mailgun.com/docs/mailgun/user-manual/events/webhooks/):
 * `{ signature: { timestamp, token, signature }, "event-data": {...} }`, where signature is
 * HMAC-SHA256(signing key, timestamp + token) in hex.
 */
export const mailgunBodySchema = z.object({
  signature: z.object({
    timestamp: z.string().regex(/^\d{9,11}$/, 'must be epoch seconds'),
    token: z.string().min(20).max(200),
    signature: z.string().regex(/^[0-9a-f]{64}$/i, 'must be 64 hex digits'),
  }),
  'event-data': z.object({
    id: z.string().min(1).max(200),
    event: z.string().min(1),
    timestamp: z.number().optional(),
    severity: z.string().optional(),
    reason: z.string().optional(),
    recipient: z.string().min(3).max(320),
    'delivery-status': z.object({
      code: z.union([z.number(), z.string()]).optional(),
      'enhanced-code': z.string().optional(),
      message: z.string().optional(),
      description: z.string().optional(),
    }).passthrough().optional(),
    envelope: z.object({ sender: z.string().optional() }).passthrough().optional(),
    message: z.object({ headers: z.record(z.string(), z.unknown()).optional() }).passthrough().optional(),
  }).passthrough(),
}).passthrough();

export type MailgunBody = z.infer<typeof mailgunBodySchema>;

export type MailgunCheck = { ok: true } | { ok: false; status: 401; reason: string };

export function verifyMailgun(signature: MailgunBody['signature'], signingKey: string, now: Date, maxAgeSeconds: number): MailgunCheck {
  if (Math.abs(now.getTime() / 1000 - Number(signature.timestamp)) > maxAgeSeconds) return { ok: false, status: 401, reason: 'stale signature timestamp' };
  const expected = crypto.createHmac('sha256', signingKey).update(signature.timestamp + signature.token).digest();
  const given = Buffer.from(signature.signature, 'hex');
  return given.length === expected.length && crypto.timingSafeEqual(given, expected) ? { ok: true } : { ok: false, status: 401, reason: 'bad signature' };
}

export function mailgunEvents(body: MailgunBody, received: Date): ProviderEvent[] {
  const e = body['event-data'];
  const email = bareAddress(e.recipient);
  const at = e.timestamp ? new Date(e.timestamp * 1000) : received;
  const headerId = e.message?.headers?.['message-id'];
  const hints = providerHints(bareAddress(e.envelope?.sender), typeof headerId === 'string' ? [headerId.startsWith('<') ? headerId : `<${headerId}>`] : []);
  const common = { source: 'mailgun' as const, id: `mailgun:${e.id}`, email, at, hints };
  const ds = e['delivery-status'] ?? {};
  const replyCode = ds.code !== undefined && /^\d{3}$/.test(String(ds.code)) ? Number(ds.code) : undefined;
  const diagnostic = [ds.message, ds.description].filter(Boolean).join(' ').replace(/\s+/g, ' ').trim();
  const status = findStatus(ds['enhanced-code']) ?? findStatus(diagnostic);
  switch (e.event) {
    case 'failed': {
      if (e.severity === 'temporary') return [{ ...common, kind: 'delayed', status, replyCode, diagnostic, reason: 'expired' }];
      // Mailgun refused to send because of its own suppression lists: the earlier event was the evidence.
      if (e.reason === 'suppress-bounce') return [{ ...common, kind: 'hard', status, replyCode, diagnostic: diagnostic || 'Mailgun: previously bounced address', reason: 'userunknown' }];
      if (e.reason === 'suppress-complaint') return [{ ...common, kind: 'complaint', feedbackType: 'abuse', diagnostic: diagnostic || 'Mailgun: previously complained', reason: 'feedback' }];
      if (e.reason === 'suppress-unsubscribe') return [{ ...common, kind: 'unsubscribe', diagnostic: diagnostic || 'Mailgun: previously unsubscribed' }];
      const reason = e.reason === 'old' ? 'expired' : classifyReason({ status, replyCode, diagnostic });
      return [{ ...common, kind: isHardReason(reason, status, replyCode) ? 'hard' : 'soft', status, replyCode, diagnostic, reason, senderFault: senderFaultReasons.has(reason) }];
    }
    case 'complained':
      return [{ ...common, kind: 'complaint', feedbackType: 'abuse', diagnostic: 'spam complaint', reason: 'feedback' }];
    case 'unsubscribed':
      return [{ ...common, kind: 'unsubscribe', diagnostic: 'unsubscribed through Mailgun' }];
    default:
      // accepted, delivered, opened, clicked, stored: nothing for the bounce policy.
      return [];
  }
}
