/** Reads any bounce, DSN, ARF report or auto-reply (pure, linear, bounded) into recipients with kind, reason and status. */
import { addressInValue, findAddresses } from './address-scan';
import { BounceParseError, headerValue, parseHeaderBlock, readMessageParts, type MessageParts } from './message-parts';
import { findPlainFailures, plainScanLimits, type PlainReading, type RecipientAttribution } from './plain-bounce';
import { classifyReason, isHardReason, smtpCommandOf, transcriptCommand, type BounceReason, type SmtpCommand } from './reason';
import { findReplyCode, findStatus } from '../mail/status-codes';
import { sesBodySchema, sesEvents } from './webhooks/ses';

/**
 * What a returned message means, read as a pure function of its parts: a bounce (hard or soft,
 * per recipient), a complaint (ARF), an auto-reply, a success report, or unrecognised.
 */
export type ReportKind = 'hard' | 'soft' | 'complaint' | 'auto-reply' | 'delivered' | 'unrecognised';

export { BounceParseError, type BounceParseErrorCode } from './message-parts';
export type { RecipientAttribution } from './plain-bounce';

export interface RecipientResult {
  /** The address we sent to, as best the report tells (see attribution). */
  recipient: string;
  /** RFC 3464 Action: failed and delayed are bounces (delayed: still being retried). */
  action: 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded' | 'complaint';
  kind: 'hard' | 'soft' | 'complaint' | 'delivered';
  reason: BounceReason | 'feedback' | 'delivered';
  status?: string;
  replyCode?: number;
  diagnostic: string;
  /** Where the recipient address came from (verp, dsn, arf, header, returned-headers, text). */
  attribution: RecipientAttribution;
  /** The address the report itself named, when the recipient is another one (a forwarding target, VERP). */
  reportedAs?: string;
  /** RFC 3464 Final-Recipient, when it differs from the Original-Recipient used as the recipient. */
  finalRecipient?: string;
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

/**
 * What the parser reads at most, and for how long. Everything past these bounds is refused or left
 * unread (see docs/bounces.md), so no message, however built, runs long on the caller's thread.
 */
export interface ParseLimits {
  /** A bigger message is refused (the bounce server passes its `bounces.server.maxMessageBytes`). */
  maxMessageBytes: number;
  /**
   * Wall-clock budget for one message. In this thread it is checked between the stages (a stage is
   * bounded by the limits above); the bounce server's worker thread enforces it hard.
   */
  timeBudgetMs: number;
}

export const defaultParseLimits: ParseLimits = { maxMessageBytes: 5 * 1024 * 1024, timeBudgetMs: 5000 };

/** Caps on the machine-readable parts (a real DSN has a few recipients and a few KB). */
const dsnLimits = { bodies: 10, bodyChars: 256 * 1024, recipients: 1000, fieldChars: 4000 };

export interface ParseOptions extends Partial<ParseLimits> {
  /**
   * Addresses we know this copy was sent to, from the VERP address the bounce came to (resolved to
   * the reader's address by the caller). They win over whatever address the report names.
   */
  sentTo?: string[];
}

/** The address in a DSN address field ("rfc822; <a@b>"), or in any string. */
export function cleanAddress(value: string | undefined): string {
  if (!value) return '';
  const v = value.slice(0, dsnLimits.fieldChars).replace(/^[ \t]*(?:rfc822|utf-8|x-[\w-]{1,40})[ \t]*;/i, '').trim();
  return addressInValue(v);
}

function stripType(value: string | undefined): string {
  return (value ?? '').slice(0, dsnLimits.fieldChars).replace(/^[ \t]*(?:smtp|x-[\w-]{1,40}|x-unix|x\.400|mta|dns|x-postfix|x-local)[ \t]*;[ \t]*/i, '').replace(/\s+/g, ' ').trim();
}

/** Splits a delivery-status body into per-message fields and per-recipient field groups. */
export function parseDeliveryStatus(body: string): { message: Array<[string, string]>; recipients: Array<Array<[string, string]>> } {
  const blocks = body.slice(0, dsnLimits.bodyChars).replace(/\r\n?/g, '\n').split(/\n[ \t]*\n/).map(parseHeaderBlock).filter((b) => b.length);
  const message: Array<[string, string]> = [];
  const recipients: Array<Array<[string, string]>> = [];
  const isRecipientField = (n: string) => n === 'final-recipient' || n === 'original-recipient' || n === 'x-actual-recipient';
  for (const block of blocks) {
    if (recipients.length >= dsnLimits.recipients) break;
    if (!block.some(([n]) => isRecipientField(n))) {
      if (block.some(([n]) => n === 'action' || n === 'status') && recipients.length) {
        // A group split by a stray blank line: it belongs to the previous recipient.
        (recipients[recipients.length - 1] as Array<[string, string]>).push(...block);
      } else message.push(...block);
      continue;
    }
    // Some MTAs run recipient groups together with no blank line: a second Final-Recipient starts a new one.
    let group: Array<[string, string]> = [];
    let seen = new Set<string>();
    for (const field of block) {
      const [n] = field;
      // ... unless it names the address the group already has (Action first, then both recipient fields).
      const sameAddress = () => cleanAddress(field[1]) === cleanAddress(headerValue(group, 'final-recipient'));
      const startsNew = (n === 'final-recipient' && seen.has('final-recipient')) || (n === 'original-recipient' && (seen.has('original-recipient') || (seen.has('action') && !sameAddress())));
      if (startsNew && group.length) {
        recipients.push(group);
        group = [];
        seen = new Set();
      }
      if (!recipients.length && !group.length && !isRecipientField(n) && /^(?:reporting-mta|arrival-date|received-from-mta|x-postfix-[\w-]+|original-envelope-id|dsn-gateway)$/.test(n)) {
        message.push(field);
        continue;
      }
      group.push(field);
      seen.add(n);
    }
    if (group.length) recipients.push(group);
  }
  return { message, recipients: recipients.slice(0, dsnLimits.recipients) };
}

function messageIdsIn(blocks: string[]): string[] {
  const ids: string[] = [];
  for (const block of blocks) {
    for (const [name, value] of parseHeaderBlock(block)) {
      if (name === 'message-id' || name === 'original-message-id' || name === 'x-original-message-id') {
        const m = /<[^<>\s]{1,998}>/.exec(value.slice(0, 2000));
        if (m) ids.push(m[0]);
      }
    }
  }
  return [...new Set(ids)];
}

/** Our own Message-ID shape (`<edition>.<subscriber>.<nonce>@domain`, see delivery/personalise). */
const daybreakMessageId = /^<[a-z0-9][a-z0-9-]{0,60}-\d{4}-\d{2}-\d{2}\.\d{1,15}\.[A-Za-z0-9_-]{1,40}@[^<>\s]{1,255}>$/;

const replyPrefix = String.raw`^[ \t]*(?:(?:re|aw|sv|vs|antw|ant|wg|fw|fwd|tr|r)[ \t]?:[ \t]*){0,3}`;
const autoReplyWords = String.raw`(?:auto(?:matic|mated|matische|matique|matico|matica|matyczna)?[ -]?(?:reply|response|answer|antwort|r[eé]ponse|respuesta|risposta|resposta|odpowied[zź]|svar)|auto:|\[auto|autoreply|autoresponse|auto-?responder|out of (?:the )?office|ooo\b|away from (?:the )?office|on vacation|vacation|on holiday|on leave|abwesenheit|abwesend|absence|r[eé]ponse automatique|risposta automatica|respuesta autom[aá]tica|fuera de la oficina|I am (?:out|away)|I'm (?:out|away)|away until|currently away|ausser haus|au[sß]er haus|afwezig|automatisch antwoord|thank(?:s| you) for (?:your|the) (?:e-?mail|message|mail|note|letter|inquiry|enquiry|submission|contact|request)|(?:we|I) (?:have )?received your (?:e-?mail|message|mail|inquiry|enquiry|request)|your (?:e-?mail|message|mail|request|inquiry|enquiry) (?:has been|was|is) (?:received|being processed)|message received|ticket (?:received|created|#)|confirmation of receipt|accus[eé] de r[eé]ception|empfangsbest[aä]tigung|lesebest[aä]tigung|fuori (?:sede|ufficio)|niet aanwezig|afwezigheid|fr[aå]nvaro|poza biurem|fora do escrit[oó]rio|ikke til stede|autosvar|please (?:verify|confirm) (?:your (?:e-?mail|message|address)|that you)|(?:sender|challenge|e-?mail) verification|awaiting (?:your )?(?:verification|approval))`;
const autoReplySubject = new RegExp(`${replyPrefix}${autoReplyWords}`, 'i');
/** An away or acknowledgement message in the body of something that is not a bounce. */
const autoReplyBody = /\b(?:out of (?:the )?office|on (?:vacation|holiday|annual leave|leave|maternity leave|parental leave)|away (?:from|until)|be back|limited access to (?:e-?mail|my email)|I (?:am|will be) (?:currently )?(?:away|out)|return(?:ing)? (?:to the office )?on|thank(?:s| you) for (?:your|the) (?:e-?mail|message|mail|note|inquiry|enquiry)|(?:we|I) (?:have )?received your (?:e-?mail|message|mail)|(?:will|shall) (?:get back to you|respond|reply|answer)|(?:this is|is an) (?:an )?(?:automated|automatic|auto-generated) (?:reply|response|message|acknowledg)|do not reply to this (?:automated )?(?:e-?mail|message))/i;
/** What a bounce says and a person's reply does not. */
const failureWording = /\b(?:undeliver|not (?:be )?delivered|could not (?:be )?deliver|delivery (?:has |to .{0,80} )?failed|delivery (?:status notification|failure|problem)|failed (?:permanently|recipient|address)|permanent(?:ly)? (?:error|failure|fatal)|fatal errors?|user unknown|unknown (?:user|recipient|mailbox|address)|no such (?:user|mailbox|recipient|address|domain)|mailbox (?:is )?(?:unavailable|full|not found|disabled)|over ?quota|does not exist|doesn't exist|returned mail|mail delivery|message (?:was )?(?:rejected|blocked|refused|bounced)|(?:rejected|refused|denied) (?:by|for|because|due)|remote (?:server|host|mta) (?:said|replied|returned)|smtp (?:error|transcript)|transcript of session|no message collected|(?:host|domain) (?:not found|unknown))/i;
const statusInText = /\b[45]\d\d[ -][^\n]{0,40}\b[45]\.\d{1,3}\.\d{1,3}\b|\b[45]\.[0-7]\.\d{1,3}\b|^[ \t]*[45][0-5]\d[ -]/m;

interface AutoReplyEvidence {
  note: string;
  /** Strong: a header or subject made for auto-replies. Weak: bulk precedence, wording, Auto-Submitted alone. */
  strong: boolean;
}

/** RFC 3834 and the common vendor markers of auto-replies (vacation, out of office, acknowledgements). */
function autoReplyEvidence(parts: MessageParts, notice: string): AutoReplyEvidence | undefined {
  const h = (name: string) => headerValue(parts.headers, name)?.slice(0, 500);
  const subject = parts.subject.slice(0, 1000);
  const autoSubmitted = h('auto-submitted')?.toLowerCase() ?? '';
  const precedence = h('precedence')?.toLowerCase() ?? '';
  if (h('x-autoreply') || h('x-autorespond') || h('x-autoresponder') || h('x-autoreply-from') || h('x-mail-autoreply') || /^(?:yes|true|1)$/i.test(h('x-autogenerated') ?? '')) return { note: 'X-Autoreply header', strong: true };
  if (/vacation/i.test(h('x-apple-action') ?? '')) return { note: 'X-Apple-Action: VACATION', strong: true };
  if (/auto[_-]?reply|autoresponder/i.test(precedence)) return { note: `Precedence: ${precedence}`, strong: true };
  if (/^(?:OOF|AutoReply)$/i.test(h('x-auto-response-suppress') ?? '') && autoReplySubject.test(subject)) return { note: 'Exchange auto-reply', strong: true };
  if (autoReplySubject.test(subject)) return { note: `subject "${subject.slice(0, 60)}"`, strong: true };
  if (autoSubmitted.startsWith('auto-replied') && autoReplyBody.test(notice)) return { note: 'Auto-Submitted: auto-replied with an away message', strong: true };
  if (autoSubmitted.startsWith('auto-replied')) return { note: 'Auto-Submitted: auto-replied', strong: false };
  if (/^(?:bulk|junk|list)\b/.test(precedence)) return { note: `Precedence: ${precedence}${autoReplyBody.test(notice) ? ' with an away or thank-you message' : ''}`, strong: false };
  if (autoReplyBody.test(notice)) return { note: 'an away or thank-you message', strong: false };
  return undefined;
}

const bounceSender = /^(?:mailer-daemon|post_?master|mail-daemon|mailerdaemon|maildaemon|mail\.?delivery|mailadmin|bounce[sd]?|returns?|nobody|mdaemon|mail-?router|smtp\.?gateway|fetchmail-daemon|root|daemon|mailman|no-?reply)(?:[+@.-]|$)/i;
const bounceSubject = /undeliver|undelivered|delivery (?:status notification|failure|failed|problem|report|has failed|notification)|returned mail|return(?:ed|ing) (?:mail|message)|mail delivery (?:failed|failure|system|subsystem|notification|problem)|failure notice|could not (?:be )?deliver|delivery to .{0,200} failed|non[- ]?delivery|nondeliverable|not delivered|warning: could not send|message not delivered|mail (?:system|delivery) error|permanent (?:delivery )?(?:error|failure)|delivery (?:has )?(?:been )?delayed|delayed mail|rejected|bounce|unzustellbar|non remis|no se puede entregar|delivery unsuccessful|failed delivery|mail could not be delivered|error sending message|DSN|notification of delivery|message you sent|there was an error|your message|system administrator|email address could not be found|message blocked|message rejected|Mail failure|returned to sender|sending failed/i;

/** Said by who sent it and what it is called: strong enough to outweigh auto-reply markers. */
function stronglyBounce(parts: MessageParts): boolean {
  return bounceSender.test(parts.from) || bounceSubject.test(parts.subject.slice(0, 1000)) || Boolean(headerValue(parts.headers, 'x-failed-recipients'));
}

function looksLikeBounce(parts: MessageParts): boolean {
  return stronglyBounce(parts) || /^<?>?$/.test(headerValue(parts.headers, 'return-path') ?? 'x');
}

/** RFC 5965 Abuse Reporting Format: a complaint (Feedback-Type abuse, fraud, ...). */
function parseArf(parts: MessageParts, report: string, text: string): BounceReport {
  const fields = parseHeaderBlock(report.slice(0, dsnLimits.bodyChars));
  const get = (n: string) => headerValue(fields, n);
  const feedbackType = (get('feedback-type') ?? 'abuse').slice(0, 100).toLowerCase();
  const originals = parts.originalHeaders.map((b) => parseHeaderBlock(b));
  let attribution: RecipientAttribution = 'arf';
  let recipients = fields.filter(([n]) => n === 'original-rcpt-to' || n === 'removal-recipient').slice(0, dsnLimits.recipients).map(([, v]) => cleanAddress(v)).filter(Boolean);
  if (!recipients.length) {
    for (const o of originals) {
      const to = cleanAddress(headerValue(o, 'to'));
      if (to) {
        recipients = [to];
        attribution = 'returned-headers';
        break;
      }
    }
  }
  if (!recipients.length) {
    // Some reports only name the reader in the text ("To: x@y" of the quoted message).
    const m = /(?:^|\n)[ \t]*To:[ \t]*([^\n]{1,2000})/i.exec(text);
    recipients = [cleanAddress(m?.[1])].filter(Boolean);
    attribution = 'text';
  }
  const mailFrom = [get('original-mail-from'), ...originals.map((o) => headerValue(o, 'return-path'))].map(cleanAddress).filter(Boolean);
  const diagnostic = stripType(`${feedbackType}${get('user-agent') ? ` (${get('user-agent')})` : ''}`);
  return {
    isBounce: feedbackType !== 'not-spam' && feedbackType !== 'virus',
    kind: 'complaint',
    format: 'arf',
    feedbackType,
    recipients: [...new Set(recipients)].map((recipient) => ({ recipient, action: 'complaint' as const, kind: 'complaint' as const, reason: 'feedback' as const, diagnostic, attribution })),
    originalMessageIds: messageIdsIn([...parts.originalHeaders, report.slice(0, dsnLimits.bodyChars)]),
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
      return { isBounce: true, kind: 'complaint', format: 'jmrp', feedbackType: 'abuse', recipients: [{ recipient, action: 'complaint', kind: 'complaint', reason: 'feedback', diagnostic: 'abuse (Microsoft JMRP)', attribution: 'header' }], originalMessageIds: messageIdsIn([block]), originalMailFrom: [cleanAddress(headerValue(h, 'return-path'))].filter(Boolean) };
    }
  }
  if (/^true$/i.test(headerValue(parts.headers, 'x-apple-unsubscribe') ?? '')) {
    const recipient = parts.from;
    return { isBounce: true, kind: 'complaint', format: 'apple-unsubscribe', feedbackType: 'opt-out', recipients: recipient ? [{ recipient, action: 'complaint', kind: 'complaint', reason: 'feedback', diagnostic: 'opt-out (Apple Mail unsubscribe)', attribution: 'header' }] : [], originalMessageIds: [], originalMailFrom: [] };
  }
  return undefined;
}

/**
 * Amazon SES notifications mailed by SNS (an email subscription to the bounce topic): the JSON
 * body is read with the same code as the SES webhook.
 */
function sesNotificationEmail(text: string): BounceReport | undefined {
  const start = text.search(/\{[ \t\r\n]{0,20}"(?:notificationType|eventType)"[ \t]{0,20}:/);
  if (start < 0) return undefined;
  const signature = text.search(/\n--[ \t]*\n/);
  const end = text.lastIndexOf('}', signature > start ? signature : undefined);
  let json: unknown;
  try {
    // SNS folds long lines of the JSON with a newline and a space.
    json = JSON.parse(text.slice(start, end + 1).replace(/\r?\n /g, '').replace(/\r?\n/g, ''));
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
    return { ...base, isBounce: false, kind: 'delivered', recipients: delivered.map((recipient) => ({ recipient, action: 'delivered', kind: 'delivered', reason: 'delivered', diagnostic: 'delivered (SES)', attribution: 'dsn' })) };
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
    attribution: 'dsn',
  }));
  const kind = summarise(recipients);
  return { ...base, isBounce: true, kind, recipients, feedbackType: events.find((e) => e.feedbackType)?.feedbackType };
}

/**
 * The recipient of one DSN group. Original-Recipient is the address as we gave it in RCPT TO
 * (RFC 3464 2.3.1), so it is our reader's; Final-Recipient may be where that address forwarded
 * to. An Original-Recipient that is not an address (some MTAs copy a header comment) is skipped.
 */
function recipientFromFields(fields: Array<[string, string]>): { recipient: string; finalRecipient?: string } {
  const original = cleanAddress(headerValue(fields, 'original-recipient'));
  const final = cleanAddress(headerValue(fields, 'final-recipient')) || cleanAddress(headerValue(fields, 'x-actual-recipient'));
  if (original && final && original !== final) return { recipient: original, finalRecipient: final };
  return { recipient: original || final };
}

/** Kind and reason for one failed or delayed recipient. */
export function judgeFailure(input: { status?: string; replyCode?: number; diagnostic: string; context?: string; command?: SmtpCommand; action: 'failed' | 'delayed' }): Pick<RecipientResult, 'kind' | 'reason'> {
  const diagnostic = input.diagnostic.slice(0, dsnLimits.fieldChars);
  let reason = classifyReason({ ...input, diagnostic });
  // The remote server's own words first; the notification's prose only when they say nothing we know.
  if ((reason === 'onhold' || reason === 'undefined') && input.context) reason = classifyReason({ ...input, diagnostic: `${diagnostic} ${input.context.slice(0, dsnLimits.fieldChars)}` });
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
function parseDsn(bodies: string[], plain: PlainReading, transcript: SmtpCommand | undefined): RecipientResult[] {
  const out: RecipientResult[] = [];
  const human = new Map(plain.failures.map((f) => [f.recipient, f.diagnostic]));
  for (const body of bodies.slice(0, dsnLimits.bodies)) {
    const { recipients } = parseDeliveryStatus(body);
    for (const fields of recipients) {
      if (out.length >= dsnLimits.recipients) return out;
      const { recipient, finalRecipient } = recipientFromFields(fields);
      if (!recipient) continue;
      const named = { recipient, attribution: 'dsn' as const, ...(finalRecipient ? { finalRecipient } : {}) };
      let diagnostic = stripType(headerValue(fields, 'diagnostic-code'));
      const said = human.get(recipient) ?? (finalRecipient ? human.get(finalRecipient) : undefined) ?? '';
      if (!diagnostic || diagnostic.length < 8) diagnostic = [diagnostic, said].filter(Boolean).join(' ') || plain.summary;
      let status = findStatus(headerValue(fields, 'status')?.slice(0, 100));
      const inDiagnostic = findStatus(diagnostic);
      if (inDiagnostic && (!status || (status.endsWith('.0.0') && inDiagnostic[0] === status[0]))) status = inDiagnostic;
      const replyCode = findReplyCode(diagnostic);
      const action = normaliseAction(headerValue(fields, 'action'), status);
      if (action === 'delivered' || action === 'relayed' || action === 'expanded') {
        out.push({ ...named, action, kind: 'delivered', reason: 'delivered', status, replyCode, diagnostic });
        continue;
      }
      const command = smtpCommandOf(diagnostic) ?? smtpCommandOf(said) ?? transcript;
      out.push({ ...named, action, status, replyCode, diagnostic, ...judgeFailure({ status, replyCode, diagnostic, command, context: diagnostic === said ? plain.summary : `${said} ${plain.summary}`, action: action === 'delayed' ? 'delayed' : 'failed' }) });
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

const severity: Record<RecipientResult['kind'], number> = { complaint: 3, hard: 2, soft: 1, delivered: 0 };

/** One result per recipient: the most severe of those that name the same address. */
function dedupe(recipients: RecipientResult[]): RecipientResult[] {
  const byAddress = new Map<string, RecipientResult>();
  for (const r of recipients) {
    const seen = byAddress.get(r.recipient);
    if (!seen || severity[r.kind] > severity[seen.kind]) byAddress.set(r.recipient, r);
  }
  return [...byAddress.values()];
}

/** The single To address of a returned original, with whether the original carries our Message-ID. */
function returnedOriginal(parts: MessageParts): { to: string; ours: boolean } | undefined {
  for (const block of parts.originalHeaders) {
    const h = parseHeaderBlock(block);
    const toValue = headerValue(h, 'to')?.slice(0, 4000);
    if (!toValue) continue;
    // A list or a group is not one reader: only a To naming one address tells whose copy it was
    // (a display name may hold a comma: "Lastname, Pat" <pat@example.gov>).
    const named = new Set(findAddresses(toValue, 3).map((a) => a.address));
    if (named.size > 1) return undefined;
    const to = addressInValue(toValue);
    if (!to) continue;
    const id = /<[^<>\s]{1,998}>/.exec(headerValue(h, 'message-id')?.slice(0, 2000) ?? '')?.[0] ?? '';
    return { to, ours: daybreakMessageId.test(id) };
  }
  return undefined;
}

/**
 * Ties the report's recipients to the address we sent to, strongest evidence first:
 * 1. the VERP address the bounce came to (the caller resolved it to the reader's address): a VERP
 *    bounce is about that one copy, whatever address the report names (a forwarding target);
 * 2. the returned original carrying our Message-ID: its To is the reader's address.
 * Without either, the report's own Original-Recipient (or the address its text names) stands: the
 * To of someone else's message may be a list, an alias or a Bcc, so it is no evidence alone.
 */
function attributeRecipients(parts: MessageParts, recipients: RecipientResult[], sentTo: string[]): RecipientResult[] {
  if (sentTo.length) return toReader(recipients, sentTo);
  const original = returnedOriginal(parts);
  if (!original || !recipients.length || recipients.some((r) => r.recipient === original.to || r.finalRecipient === original.to)) return recipients;
  if (!original.ours) return recipients;
  return dedupe(recipients.map((r) => (r.recipient === original.to ? r : { ...r, recipient: original.to, attribution: 'returned-headers' as const, reportedAs: r.recipient })));
}

/**
 * A bounce that came to a VERP address is about that one copy: its recipient is the reader we
 * sent it to (`sentTo`, resolved by the caller), with what the report says about them, or about
 * its one failure when it names someone else (a forwarding target, an internal mailbox).
 */
function toReader(recipients: RecipientResult[], sentTo: string[]): RecipientResult[] {
  const target = sentTo[0] as string;
  const named = recipients.find((r) => sentTo.includes(r.recipient) || (r.finalRecipient !== undefined && sentTo.includes(r.finalRecipient)));
  const failing = recipients.filter((r) => r.kind !== 'delivered');
  const about = named ?? (failing.length ? failing.reduce((a, b) => (severity[b.kind] > severity[a.kind] ? b : a)) : recipients[0]);
  if (!about) return [];
  return [about.recipient === target ? { ...about, attribution: 'verp' } : { ...about, recipient: target, attribution: 'verp', reportedAs: about.recipient }];
}

/**
 * The same for a report already parsed, when the VERP address was found only inside the message
 * (a returned Return-Path) after parsing. A report with no recipient is left as it is.
 */
export function attributeToReader<T extends BounceReport>(report: T, sentTo: string[]): T {
  const to = sentTo.map((a) => a.toLowerCase()).filter(Boolean);
  if (!to.length || !report.recipients.length || report.kind === 'complaint') return report;
  const recipients = toReader(report.recipients, to);
  return { ...report, recipients, kind: report.isBounce ? summarise(recipients) : report.kind };
}

/** Classifies a decoded message (pure). `sentTo`: the reader's address when the bounce came to their VERP address. */
export function classifyMessage(parts: MessageParts, options: { sentTo?: string[] } = {}): BounceReport {
  const sentTo = (options.sentTo ?? []).map((a) => a.toLowerCase()).filter(Boolean);
  // Everything below reads the first part of the text only: a bounce says what failed near the top.
  const text = parts.text.length > plainScanLimits.noticeChars ? parts.text.slice(0, plainScanLimits.noticeChars) : parts.text;
  const originalMessageIds = messageIdsIn(parts.originalHeaders);
  const originalMailFrom = [
    ...parts.originalHeaders.map((b) => cleanAddress(headerValue(parseHeaderBlock(b), 'return-path'))),
    ...parts.deliveryStatus.slice(0, dsnLimits.bodies).map((d) => cleanAddress(headerValue(parseDeliveryStatus(d).message, 'x-postfix-sender'))),
  ].filter(Boolean);
  const base = { originalMessageIds, originalMailFrom };

  const arf = parts.feedbackReport[0] ?? (parts.reportType === 'feedback-report' || /^Feedback-Type:/im.test(text) ? /^Feedback-Type:[^]{0,20000}?(?:\n[ \t]*\n|$)/im.exec(text)?.[0] : undefined);
  if (arf) return parseArf(parts, arf, text);

  const jmrp = microsoftComplaint(parts);
  if (jmrp) return jmrp;
  const ses = sesNotificationEmail(text);
  if (ses) return ses;

  const plain = findPlainFailures(parts);
  const transcript = transcriptCommand(text);
  const dsnBodies = parts.deliveryStatus.length ? parts.deliveryStatus : plain.embeddedDsn;
  if (dsnBodies.length) {
    const recipients = attributeRecipients(parts, dedupe(parseDsn(dsnBodies, plain, transcript)), sentTo);
    if (recipients.length) {
      const kind = summarise(recipients);
      return { ...base, isBounce: kind === 'hard' || kind === 'soft', kind, format: parts.deliveryStatus.length ? 'rfc3464' : 'rfc3464-inline', recipients };
    }
  }

  const strong = stronglyBounce(parts);
  const notice = plain.summary;
  const saysFailure = failureWording.test(notice) || statusInText.test(notice);
  const autoReply = autoReplyEvidence(parts, text.slice(0, 8000));
  // An auto-reply marker wins unless the sender and subject say bounce; a weak one only where nothing says failure.
  if (autoReply && !strong && (autoReply.strong || !saysFailure)) return { ...base, isBounce: false, kind: 'auto-reply', format: 'rfc3834', recipients: [], note: autoReply.note };
  const judge = (f: { recipient: string; diagnostic: string; status?: string; replyCode?: number; action?: 'failed' | 'delayed'; attribution: RecipientAttribution }): RecipientResult => {
    const status = f.status ?? findStatus(f.diagnostic);
    const replyCode = f.replyCode ?? findReplyCode(f.diagnostic);
    const action: 'failed' | 'delayed' = f.action ?? (status?.startsWith('4') || plain.delayed ? 'delayed' : 'failed');
    const command = smtpCommandOf(f.diagnostic) ?? transcript;
    return { recipient: f.recipient, action, status, replyCode, diagnostic: f.diagnostic, attribution: f.attribution, ...judgeFailure({ status, replyCode, diagnostic: f.diagnostic, command, context: plain.summary, action }) };
  };
  // Mail with a null sender and no failure wording at all is someone's reply, not a bounce: never guess.
  if (plain.failures.length && (strong || (looksLikeBounce(parts) && saysFailure))) {
    const recipients = attributeRecipients(parts, dedupe(plain.failures.map(judge)), sentTo);
    const kind = summarise(recipients);
    return { ...base, isBounce: true, kind, format: `plain:${plain.layout}`, recipients };
  }
  if (autoReply) return { ...base, isBounce: false, kind: 'auto-reply', format: 'rfc3834', recipients: [], note: autoReply.note };
  if (strong && saysFailure) {
    // Surely a bounce, but the text names nobody: the VERP reader if we know them, else kept for ops.
    const recipients = sentTo.length ? [judge({ recipient: sentTo[0] as string, diagnostic: notice.slice(0, 1000), attribution: 'verp' })] : [];
    const kind = recipients.length ? summarise(recipients) : 'soft';
    return { ...base, isBounce: true, kind, format: `plain:${plain.layout}`, recipients, ...(recipients.length ? {} : { note: 'a bounce that names no recipient' }) };
  }
  const note = !looksLikeBounce(parts) ? 'not a bounce, complaint or auto-reply' : saysFailure ? 'looks like a bounce but names no failed recipient' : 'a null-sender message that speaks of no failure (a person\'s reply?)';
  return { ...base, isBounce: false, kind: 'unrecognised', format: 'unknown', recipients: [], note };
}

/**
 * Reads and classifies a raw message within the limits: a message over `maxMessageBytes`, a MIME
 * structure no bounce has, or a parse past `timeBudgetMs` is refused with a BounceParseError.
 */
export async function parseBounce(raw: Buffer | string, options: ParseOptions = {}): Promise<BounceReport & { parts: MessageParts }> {
  const limits = { ...defaultParseLimits, ...options };
  const started = Date.now();
  const size = typeof raw === 'string' ? Buffer.byteLength(raw) : raw.length;
  if (size > limits.maxMessageBytes) throw new BounceParseError('too-large', `message of ${size} bytes is over the ${limits.maxMessageBytes}-byte limit for bounces; raise bounces.server.maxMessageBytes if real bounces are this big`);
  const overBudget = (stage: string) => {
    const spent = Date.now() - started;
    if (spent > limits.timeBudgetMs) throw new BounceParseError('time-budget', `parsing took ${spent} ms (${stage}), over the ${limits.timeBudgetMs} ms budget; read this message by hand if it matters`);
  };
  const parts = await readMessageParts(raw);
  overBudget('MIME');
  const report = classifyMessage(parts, { sentTo: options.sentTo });
  overBudget('classification');
  return { ...report, parts };
}

