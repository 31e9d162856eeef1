import { headerValue, parseHeaderBlock, readMessageParts, type MessageParts } from './message-parts';
import { findPlainFailures } from './plain-bounce';
import { classifyReason, isHardReason, smtpCommandOf, transcriptCommand, type BounceReason, type SmtpCommand } from './reason';
import { findReplyCode, findStatus } from './status-codes';
import { sesBodySchema, sesEvents } from './webhooks/ses';

/**
 * What a returned message means, read as a pure function of its parts: a bounce (hard or soft,
 * per recipient), a complaint (ARF), an auto-reply, a success report, or unrecognised.
 */
export type ReportKind = 'hard' | 'soft' | 'complaint' | 'auto-reply' | 'delivered' | 'unrecognised';

export interface RecipientResult {
  recipient: string;
  /** RFC 3464 Action: failed and delayed are bounces (delayed: still being retried). */
  action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded' | 'complaint';
  kind: 'hard' | 'soft' | 'complaint' | 'delivered';
  reason: BounceReason | 'feedback' | 'delivered';
  status?: string;
  replyCode?: number;
  diagnostic: string;
}

export interface BounceReport {
  /** True for a bounce or complaint: something that should reach a subscriber's record. */
  isBounce: boolean;
  kind: ReportKind;
  /** How it was read: rfc3464, arf, or the plain-text layout that matched. */
  format: string;
  recipients: RecipientResult[];
  feedbackType?: string;
  /** Message-IDs of the original message, for attribution when there is no VERP token. */
  originalMessageIds: string[];
  /** Envelope sender of the original (ARF Original-Mail-From, Return-Path, X-Postfix-Sender). */
  originalMailFrom: string[];
  /** Why an auto-reply or unrecognised message was judged so. */
  note?: string;
}

const addressRe = /[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+/;

/** The address in a DSN address field ("rfc822; <a@b>"), or in any string. */
export function cleanAddress(value: string | undefined): string {
  if (!value) return '';
  const v = value.replace(/^\s*(?:rfc822|utf-8|x-[\w-]+)\s*;/i, '').trim();
  const angle = /<([^<>]*@[^<>]*)>/.exec(v);
  const m = addressRe.exec(angle ? (angle[1] as string) : v);
  return m ? m[0].toLowerCase().replace(/^['"]+|['".]+$/g, '') : '';
}

function stripType(value: string | undefined): string {
  return (value ?? '').replace(/^\s*(?:smtp|x-[\w-]+|x-unix|x\.400|mta|dns|x-postfix|x-local)\s*;\s*/i, '').replace(/\s+/g, ' ').trim();
}

/** Splits a delivery-status body into per-message fields and per-recipient field groups. */
export function parseDeliveryStatus(body: string): { message: Array<[string, string]>; recipients: Array<Array<[string, string]>> } {
  const blocks = body.replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/).map(parseHeaderBlock).filter((b) => b.length);
  const message: Array<[string, string]> = [];
  const recipients: Array<Array<[string, string]>> = [];
  const isRecipientField = (n: string) => n === 'final-recipient' || n === 'original-recipient' || n === 'x-actual-recipient';
  for (const block of blocks) {
    if (!block.some(([n]) => isRecipientField(n))) {
      if (block.some(([n]) => n === 'action' || n === 'status') && recipients.length) {
        // A group split by a stray blank line: it belongs to the previous recipient.
        (recipients[recipients.length - 1] as Array<[string, string]>).push(...block);
      } else message.push(...block);
      continue;
    }
    // Some MTAs run recipient groups together with no blank line: a second Final-Recipient starts a new one.
    let group: Array<[string, string]> = [];
    for (const field of block) {
      const [n] = field;
      const startsNew = (n === 'final-recipient' && group.some(([g]) => g === 'final-recipient'))
        || (n === 'original-recipient' && group.some(([g]) => g === 'original-recipient' || g === 'action'));
      if (startsNew && group.length) {
        recipients.push(group);
        group = [];
      }
      if (!recipients.length && !group.length && !isRecipientField(n) && /^(?:reporting-mta|arrival-date|received-from-mta|x-postfix-[\w-]+|original-envelope-id|dsn-gateway)$/.test(n)) {
        message.push(field);
        continue;
      }
      group.push(field);
    }
    if (group.length) recipients.push(group);
  }
  return { message, recipients };
}

function messageIdsIn(blocks: string[]): string[] {
  const ids: string[] = [];
  for (const block of blocks) {
    for (const [name, value] of parseHeaderBlock(block)) {
      if (name === 'message-id' || name === 'original-message-id' || name === 'x-original-message-id') {
        const m = /<[^<>\s]+>/.exec(value);
        if (m) ids.push(m[0]);
      }
    }
  }
  return [...new Set(ids)];
}

const autoReplySubject = /^\s*(?:(?:auto(?:matic)?[ -]?(?:reply|response|answer|antwort|r[eé]ponse|respuesta|risposta)|auto:|autoreply|autoresponse|out of (?:the )?office|ooo\b|away from (?:the )?office|on vacation|vacation|abwesenheit|absence|r[eé]ponse automatique|risposta automatica|respuesta autom[aá]tica|fuera de la oficina|I am (?:out|away)|I'm (?:out|away)|away until|currently away|ausser haus|afwezig|automatisch antwoord))/i;

/** RFC 3834 and the common vendor markers of auto-replies (vacation, out of office). */
function autoReplyEvidence(parts: MessageParts): string | undefined {
  const h = (name: string) => headerValue(parts.headers, name);
  const autoSubmitted = h('auto-submitted')?.toLowerCase();
  if (h('x-autoreply') || h('x-autorespond') || h('x-autoresponder') || h('x-autoreply-from')) return 'X-Autoreply header';
  if (/vacation/i.test(h('x-apple-action') ?? '')) return 'X-Apple-Action: VACATION';
  if (/auto_reply|autoreply/i.test(h('precedence') ?? '')) return 'Precedence: auto_reply';
  if (/^(?:OOF|AutoReply)$/i.test(h('x-auto-response-suppress') ?? '') && autoReplySubject.test(parts.subject)) return 'Exchange auto-reply';
  if (autoReplySubject.test(parts.subject)) return `subject "${parts.subject.slice(0, 60)}"`;
  if (autoSubmitted === 'auto-replied' && /\b(?:out of (?:the )?office|on vacation|away until|on leave|be back|limited access to (?:e-?mail|my email)|I (?:am|will be) (?:currently )?(?:away|out)|return(?:ing)? (?:to the office )?on)\b/i.test(parts.text)) return 'Auto-Submitted: auto-replied with an away message';
  return undefined;
}

const bounceSender = /^(?:mailer-daemon|post_?master|mail-daemon|mailerdaemon|maildaemon|mail\.?delivery|mailadmin|bounce[sd]?|returns?|nobody|mdaemon|mail-?router|smtp\.?gateway|fetchmail-daemon|root|daemon|mailman|no-?reply)(?:[+@.-]|$)/i;
const bounceSubject = /undeliver|undelivered|delivery (?:status notification|failure|failed|problem|report|has failed|notification)|returned mail|return(?:ed|ing) (?:mail|message)|mail delivery (?:failed|failure|system|subsystem|notification)|failure notice|could not (?:be )?deliver|delivery to .* failed|non[- ]?delivery|nondeliverable|not delivered|warning: could not send|message not delivered|mail (?:system|delivery) error|permanent (?:delivery )?(?:error|failure)|delivery (?:has )?(?:been )?delayed|delayed mail|rejected|bounce|unzustellbar|non remis|no se puede entregar|delivery unsuccessful|failed delivery|mail could not be delivered|error sending message|DSN|notification of delivery|message you sent|there was an error|your message|system administrator|email address could not be found|message blocked|message rejected|Mail failure|returned to sender|sending failed/i;

/** Said by who sent it and what it is called: strong enough to outweigh auto-reply markers. */
function stronglyBounce(parts: MessageParts): boolean {
  return bounceSender.test(parts.from) || bounceSubject.test(parts.subject) || Boolean(headerValue(parts.headers, 'x-failed-recipients'));
}

function looksLikeBounce(parts: MessageParts): boolean {
  return stronglyBounce(parts) || /^<?>?$/.test(headerValue(parts.headers, 'return-path') ?? 'x');
}

/** RFC 5965 Abuse Reporting Format: a complaint (Feedback-Type abuse, fraud, ...). */
function parseArf(parts: MessageParts, report: string): BounceReport {
  const fields = parseHeaderBlock(report);
  const get = (n: string) => headerValue(fields, n);
  const feedbackType = (get('feedback-type') ?? 'abuse').toLowerCase();
  const originals = parts.originalHeaders.map((b) => parseHeaderBlock(b));
  let recipients = fields.filter(([n]) => n === 'original-rcpt-to' || n === 'removal-recipient').map(([, v]) => cleanAddress(v)).filter(Boolean);
  if (!recipients.length) {
    for (const o of originals) {
      const to = cleanAddress(headerValue(o, 'to'));
      if (to) {
        recipients = [to];
        break;
      }
    }
  }
  if (!recipients.length) {
    // Some reports only name the reader in the text ("To: x@y" of the quoted message).
    const m = /(?:^|\n)\s*To:\s*([^\n]+)/i.exec(parts.text);
    recipients = [cleanAddress(m?.[1])].filter(Boolean);
  }
  const mailFrom = [get('original-mail-from'), ...originals.map((o) => headerValue(o, 'return-path'))].map(cleanAddress).filter(Boolean);
  const diagnostic = stripType(`${feedbackType}${get('user-agent') ? ` (${get('user-agent')})` : ''}`);
  return {
    isBounce: feedbackType !== 'not-spam' && feedbackType !== 'virus',
    kind: 'complaint',
    format: 'arf',
    feedbackType,
    recipients: [...new Set(recipients)].map((recipient) => ({ recipient, action: 'complaint' as const, kind: 'complaint' as const, reason: 'feedback' as const, diagnostic })),
    originalMessageIds: messageIdsIn([...parts.originalHeaders, report]),
    originalMailFrom: mailFrom,
  };
}

/**
 * Two complaint-like formats that are not ARF: Microsoft's JMRP (the reported message forwarded
 * with X-HmXmrOriginalRecipient) and Apple Mail's one-tap unsubscribe (X-Apple-Unsubscribe).
 */
function microsoftComplaint(parts: MessageParts): BounceReport | undefined {
  for (const block of parts.originalHeaders) {
    const h = parseHeaderBlock(block);
    const recipient = cleanAddress(headerValue(h, 'x-hmxmroriginalrecipient'));
    if (recipient) {
      return { isBounce: true, kind: 'complaint', format: 'jmrp', feedbackType: 'abuse', recipients: [{ recipient, action: 'complaint', kind: 'complaint', reason: 'feedback', diagnostic: 'abuse (Microsoft JMRP)' }], originalMessageIds: messageIdsIn([block]), originalMailFrom: [cleanAddress(headerValue(h, 'return-path'))].filter(Boolean) };
    }
  }
  if (/^true$/i.test(headerValue(parts.headers, 'x-apple-unsubscribe') ?? '')) {
    const recipient = parts.from;
    return { isBounce: true, kind: 'complaint', format: 'apple-unsubscribe', feedbackType: 'opt-out', recipients: recipient ? [{ recipient, action: 'complaint', kind: 'complaint', reason: 'feedback', diagnostic: 'opt-out (Apple Mail unsubscribe)' }] : [], originalMessageIds: [], originalMailFrom: [] };
  }
  return undefined;
}

/**
 * Amazon SES notifications mailed by SNS (an email subscription to the bounce topic): the JSON
 * body is read with the same code as the SES webhook.
 */
function sesNotificationEmail(parts: MessageParts): BounceReport | undefined {
  const start = parts.text.search(/\{\s*"(?:notificationType|eventType)"\s*:/);
  if (start < 0) return undefined;
  const end = parts.text.lastIndexOf('}', parts.text.search(/\n--\s*\n/) > start ? parts.text.search(/\n--\s*\n/) : undefined);
  let json: unknown;
  try {
    // SNS folds long lines of the JSON with a newline and a space.
    json = JSON.parse(parts.text.slice(start, end + 1).replace(/\r?\n /g, '').replace(/\r?\n/g, ''));
  } catch {
    return undefined;
  }
  const parsed = sesBodySchema.safeParse(json);
  if (!parsed.success) return undefined;
  const body = parsed.data;
  const type = (body.notificationType ?? body.eventType ?? '').toLowerCase();
  const base = { format: 'ses-notification', originalMessageIds: [], originalMailFrom: [body.mail?.source ?? ''].filter(Boolean).map(cleanAddress) };
  if (type === 'delivery') {
    const delivered = ((json as { delivery?: { recipients?: string[] } }).delivery?.recipients ?? body.mail?.destination ?? []).map(cleanAddress).filter(Boolean);
    return { ...base, isBounce: false, kind: 'delivered', recipients: delivered.map((recipient) => ({ recipient, action: 'delivered', kind: 'delivered', reason: 'delivered', diagnostic: 'delivered (SES)' })) };
  }
  const events = sesEvents(body, new Date(0)).filter((e) => e.kind === 'hard' || e.kind === 'soft' || e.kind === 'complaint' || e.kind === 'delayed');
  if (!events.length) return { ...base, isBounce: false, kind: 'unrecognised', recipients: [], note: `SES ${type} notification with nothing to count` };
  const recipients: RecipientResult[] = events.map((e) => ({
    recipient: e.email,
    action: e.kind === 'complaint' ? 'complaint' : e.kind === 'delayed' ? 'delayed' : 'failed',
    kind: e.kind === 'complaint' ? 'complaint' : e.kind === 'hard' ? 'hard' : 'soft',
    reason: e.kind === 'complaint' ? 'feedback' : ((e.reason ?? 'undefined') as BounceReason),
    status: e.status,
    replyCode: e.replyCode ?? findReplyCode(e.diagnostic),
    diagnostic: e.diagnostic ?? '',
  }));
  const kind = summarise(recipients);
  return { ...base, isBounce: true, kind, recipients, feedbackType: events.find((e) => e.feedbackType)?.feedbackType };
}

function recipientFromFields(fields: Array<[string, string]>): string {
  return cleanAddress(headerValue(fields, 'final-recipient')) || cleanAddress(headerValue(fields, 'original-recipient')) || cleanAddress(headerValue(fields, 'x-actual-recipient'));
}

/** Kind and reason for one failed or delayed recipient. */
export function judgeFailure(input: { status?: string; replyCode?: number; diagnostic: string; context?: string; command?: SmtpCommand; action: 'failed' | 'delayed' }): Pick<RecipientResult, 'kind' | 'reason'> {
  let reason = classifyReason(input);
  // The remote server's own words first; the notification's prose only when they say nothing we know.
  if ((reason === 'onhold' || reason === 'undefined') && input.context) reason = classifyReason({ ...input, diagnostic: `${input.diagnostic} ${input.context}` });
  return { reason, kind: input.action === 'failed' && isHardReason(reason, input.status, input.replyCode) ? 'hard' : input.action === 'delayed' ? 'soft' : isHardReason(reason, input.status, input.replyCode) ? 'hard' : 'soft' };
}

function normaliseAction(value: string | undefined, status: string | undefined): RecipientResult['action'] {
  const v = (value ?? '').toLowerCase().trim();
  if (/^fail/.test(v)) return 'failed';
  if (/^delay/.test(v)) return 'delayed';
  if (/^deliver/.test(v)) return 'delivered';
  if (/^relay/.test(v)) return 'relayed';
  if (/^expand/.test(v)) return 'expanded';
  if (status?.startsWith('2')) return 'delivered';
  if (status?.startsWith('4')) return 'delayed';
  return 'failed';
}

/** RFC 3464: one result per recipient group in message/delivery-status. */
function parseDsn(parts: MessageParts, bodies: string[], plain: ReturnType<typeof findPlainFailures>): RecipientResult[] {
  const out: RecipientResult[] = [];
  for (const body of bodies) {
    const { recipients } = parseDeliveryStatus(body);
    for (const fields of recipients) {
      const recipient = recipientFromFields(fields);
      if (!recipient) continue;
      let diagnostic = stripType(headerValue(fields, 'diagnostic-code'));
      const human = plain.failures.find((f) => f.recipient === recipient)?.diagnostic ?? '';
      if (!diagnostic || diagnostic.length < 8) diagnostic = [diagnostic, human].filter(Boolean).join(' ') || plain.summary;
      let status = findStatus(headerValue(fields, 'status'));
      const inDiagnostic = findStatus(diagnostic);
      if (inDiagnostic && (!status || (status.endsWith('.0.0') && inDiagnostic[0] === status[0]))) status = inDiagnostic;
      const replyCode = findReplyCode(diagnostic);
      const action = normaliseAction(headerValue(fields, 'action'), status);
      if (action === 'delivered' || action === 'relayed' || action === 'expanded') {
        out.push({ recipient, action, kind: 'delivered', reason: 'delivered', status, replyCode, diagnostic });
        continue;
      }
      const command = smtpCommandOf(diagnostic) ?? smtpCommandOf(human) ?? transcriptCommand(parts.text);
      out.push({ recipient, action, status, replyCode, diagnostic, ...judgeFailure({ status, replyCode, diagnostic, command, context: diagnostic === human ? plain.summary : `${human} ${plain.summary}`, action: action === 'delayed' ? 'delayed' : 'failed' }) });
    }
  }
  return out;
}

function summarise(recipients: RecipientResult[]): ReportKind {
  if (recipients.some((r) => r.kind === 'complaint')) return 'complaint';
  if (recipients.some((r) => r.kind === 'hard')) return 'hard';
  if (recipients.some((r) => r.kind === 'soft')) return 'soft';
  return 'delivered';
}

/** Classifies a decoded message (pure). */
export function classifyMessage(parts: MessageParts): BounceReport {
  const originalMessageIds = messageIdsIn(parts.originalHeaders);
  const originalMailFrom = [
    ...parts.originalHeaders.map((b) => cleanAddress(headerValue(parseHeaderBlock(b), 'return-path'))),
    ...parts.deliveryStatus.map((d) => cleanAddress(headerValue(parseDeliveryStatus(d).message, 'x-postfix-sender'))),
  ].filter(Boolean);
  const base = { originalMessageIds, originalMailFrom };

  const arf = parts.feedbackReport[0] ?? (parts.reportType === 'feedback-report' || /^Feedback-Type:/im.test(parts.text) ? /^Feedback-Type:[\s\S]*?(?:\n\s*\n|$)/im.exec(parts.text)?.[0] : undefined);
  if (arf) return parseArf(parts, arf);

  const jmrp = microsoftComplaint(parts);
  if (jmrp) return jmrp;
  const ses = sesNotificationEmail(parts);
  if (ses) return ses;

  const plain = findPlainFailures(parts);
  const dsnBodies = parts.deliveryStatus.length ? parts.deliveryStatus : plain.embeddedDsn;
  if (dsnBodies.length) {
    const recipients = parseDsn(parts, dsnBodies, plain);
    if (recipients.length) {
      const kind = summarise(recipients);
      return { ...base, isBounce: kind === 'hard' || kind === 'soft', kind, format: parts.deliveryStatus.length ? 'rfc3464' : 'rfc3464-inline', recipients };
    }
  }

  const strong = stronglyBounce(parts);
  const autoReply = autoReplyEvidence(parts) ?? (!strong && /^auto-replied/i.test(headerValue(parts.headers, 'auto-submitted') ?? '') ? 'Auto-Submitted: auto-replied, and nothing says bounce' : undefined);
  if (autoReply && !strong) return { ...base, isBounce: false, kind: 'auto-reply', format: 'rfc3834', recipients: [], note: autoReply };
  if (plain.failures.length && looksLikeBounce(parts)) {
    const recipients: RecipientResult[] = plain.failures.map((f) => {
      const status = f.status ?? findStatus(f.diagnostic);
      const replyCode = f.replyCode ?? findReplyCode(f.diagnostic);
      const action: 'failed' | 'delayed' = f.action ?? (status?.startsWith('4') || plain.delayed ? 'delayed' : 'failed');
      const command = smtpCommandOf(f.diagnostic) ?? transcriptCommand(parts.text);
      return { recipient: f.recipient, action, status, replyCode, diagnostic: f.diagnostic, ...judgeFailure({ status, replyCode, diagnostic: f.diagnostic, command, context: plain.summary, action }) };
    });
    const kind = summarise(recipients);
    return { ...base, isBounce: true, kind, format: `plain:${plain.layout}`, recipients };
  }
  if (autoReply) return { ...base, isBounce: false, kind: 'auto-reply', format: 'rfc3834', recipients: [], note: autoReply };
  return { ...base, isBounce: false, kind: 'unrecognised', format: 'unknown', recipients: [], note: looksLikeBounce(parts) ? 'looks like a bounce but names no failed recipient' : 'not a bounce, complaint or auto-reply' };
}

/** Reads and classifies a raw message. */
export async function parseBounce(raw: Buffer | string): Promise<BounceReport & { parts: MessageParts }> {
  const parts = await readMessageParts(raw);
  return { ...classifyMessage(parts), parts };
}
