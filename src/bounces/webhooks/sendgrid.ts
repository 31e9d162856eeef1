/** SendGrid's signed Event Webhook: its body schema, ECDSA signature check, and the events it carries. */
import crypto from 'node:crypto';
import { z } from 'zod';
import { classifyReason, isHardReason, senderFaultReasons } from '../reason';
import { findStatus, findReplyCode } from '../../mail/status-codes';
import { providerHints, type ProviderEvent } from './provider-event';

/**
 * SendGrid's signed Event Webhook: an array of events, signed with ECDSA P-256 over the
 * timestamp header followed by the raw body (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features).
 */
export const sendgridSignatureHeader = 'x-twilio-email-event-webhook-signature';
export const sendgridTimestampHeader = 'x-twilio-email-event-webhook-timestamp';

export const sendgridEventSchema = z.object({
  email: z.string().min(3).max(320),
  event: z.string().min(1),
  sg_event_id: z.string().min(1).max(200),
  sg_message_id: z.string().optional(),
  'smtp-id': z.string().optional(),
  timestamp: z.number().optional(),
  reason: z.string().optional(),
  status: z.string().optional(),
  type: z.string().optional(),
}).passthrough();

export const sendgridBodySchema = z.array(sendgridEventSchema).min(1).max(10_000);

export type SendgridCheck = { ok: true } | { ok: false; status: 400 | 401; reason: string };

/** The key as SendGrid shows it: base64 DER (SPKI), or a PEM block. */
export function sendgridPublicKey(key: string): crypto.KeyObject {
  const trimmed = key.trim();
  if (trimmed.startsWith('-----BEGIN')) return crypto.createPublicKey(trimmed);
  return crypto.createPublicKey({ key: Buffer.from(trimmed.replace(/\s+/g, ''), 'base64'), format: 'der', type: 'spki' });
}

export function verifySendgrid(input: { publicKey: crypto.KeyObject; signature?: string; timestamp?: string; rawBody: Buffer; now: Date; maxAgeSeconds: number }): SendgridCheck {
  const { signature, timestamp } = input;
  if (!signature || !timestamp) return { ok: false, status: 401, reason: 'unsigned: the signature and timestamp headers are missing' };
  if (!/^\d{9,11}$/.test(timestamp)) return { ok: false, status: 400, reason: 'timestamp header is not epoch seconds' };
  if (Math.abs(input.now.getTime() / 1000 - Number(timestamp)) > input.maxAgeSeconds) return { ok: false, status: 401, reason: 'stale signature timestamp' };
  let valid = false;
  try {
    valid = crypto.verify('sha256', Buffer.concat([Buffer.from(timestamp, 'utf8'), input.rawBody]), input.publicKey, Buffer.from(signature, 'base64'));
  } catch {
    valid = false;
  }
  return valid ? { ok: true } : { ok: false, status: 401, reason: 'bad signature' };
}

const droppedHard = /^(?:Bounced Address|Invalid|Invalid Address)$/i;

export function sendgridEvents(events: z.infer<typeof sendgridBodySchema>, received: Date): ProviderEvent[] {
  const out: ProviderEvent[] = [];
  for (const e of events) {
    const email = e.email.trim().toLowerCase();
    const at = e.timestamp ? new Date(e.timestamp * 1000) : received;
    const smtpId = e['smtp-id'];
    const common = { source: 'sendgrid' as const, id: `sendgrid:${e.sg_event_id}`, email, at, hints: providerHints(undefined, smtpId ? [smtpId] : []) };
    const diagnostic = e.reason ?? '';
    const status = findStatus(e.status) ?? findStatus(diagnostic);
    const replyCode = findReplyCode(diagnostic);
    switch (e.event) {
      case 'bounce': {
        const reason = classifyReason({ status, replyCode, diagnostic });
        // SendGrid says "blocked" for soft bounces; its "bounce" is a hard one unless the words say it was us they refused.
        const hard = e.type !== 'blocked' && (isHardReason(reason, status, replyCode) || !senderFaultReasons.has(reason) && reason !== 'mailboxfull' && !status?.startsWith('4'));
        out.push({ ...common, kind: hard ? 'hard' : 'soft', status, replyCode, diagnostic, reason: hard && !isHardReason(reason, status, replyCode) ? 'userunknown' : reason, senderFault: senderFaultReasons.has(reason) });
        break;
      }
      case 'dropped':
        if (droppedHard.test(diagnostic)) out.push({ ...common, kind: 'hard', diagnostic: `dropped by SendGrid: ${diagnostic}`, reason: 'userunknown' });
        else if (/^Unsubscribed Address$/i.test(diagnostic)) out.push({ ...common, kind: 'unsubscribe', diagnostic: `dropped by SendGrid: ${diagnostic}` });
        else if (/^Spam Reporting Address$/i.test(diagnostic)) out.push({ ...common, kind: 'complaint', feedbackType: 'abuse', diagnostic: `dropped by SendGrid: ${diagnostic}`, reason: 'feedback' });
        break;
      case 'deferred':
        out.push({ ...common, kind: 'delayed', status, replyCode, diagnostic, reason: 'expired' });
        break;
      case 'spamreport':
        out.push({ ...common, kind: 'complaint', feedbackType: 'abuse', diagnostic: 'spam report', reason: 'feedback' });
        break;
      case 'unsubscribe':
      case 'group_unsubscribe':
        out.push({ ...common, kind: 'unsubscribe', diagnostic: e.event });
        break;
      default:
        // processed, delivered, open, click, group_resubscribe: nothing for the bounce policy.
        break;
    }
  }
  return out;
}
