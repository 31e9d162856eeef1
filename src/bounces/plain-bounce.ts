/** Non-standard, plain-text bounce notices: which addresses failed and why, found in one linear pass. */
import { findAddresses, firstAddress } from './address-scan';
import { headerValue, parseHeaderBlock, type MessageParts } from './message-parts';
import { findReplyCode, findStatus } from '../mail/status-codes';

/**
 * Reading the human-readable part of a bounce (pure): which addresses failed and what the remote
 * server said about each. Non-standard bounces (qmail, Exim, old Sendmail, Exchange, Gmail,
 * Yahoo, ...) have no machine-readable part, and standard DSNs often put the best wording here.
 */

/**
 * Where a report's recipient address came from, strongest first: the VERP address the bounce was
 * sent to (the copy's own reader); a machine-readable field (RFC 3464 Original-/Final-Recipient,
 * a provider's JSON); an ARF report's Original-Rcpt-To; a header naming it (X-Failed-Recipients,
 * JMRP); the To: of the returned original message; the human-readable text.
 */
export type RecipientAttribution = 'verp' | 'dsn' | 'arf' | 'header' | 'returned-headers' | 'text';

export interface PlainFailure {
  recipient: string;
  diagnostic: string;
  status?: string;
  replyCode?: number;
  action?: 'failed' | 'delayed';
  /** The address stood alone on its line, as the head of its own section. */
  heading?: boolean;
  /** A reply or status code followed the address on its own line. */
  lineCode?: boolean;
  attribution: RecipientAttribution;
}

export interface PlainReading {
  failures: PlainFailure[];
  /** The notification text without boilerplate, for reasons when a recipient has no wording of its own. */
  summary: string;
  /** Which layout matched (for ops reading `bounces parse`). */
  layout: string;
  /** RFC 3464 field groups found inline (DSNs whose delivery-status is not its own MIME part). */
  embeddedDsn: string[];
  /** The notification says delivery is only delayed and still being retried. */
  delayed: boolean;
}

/** Where the quoted original message starts: nothing after it describes the failure. */
const originalMarkers = [
  /^-+ ?Below this line is a copy of the message\.?/im,
  /^-+ ?This is a copy of (?:the|your) message/im,
  /^-+ ?(?:The )?(?:header of the )?original message (?:is following|follows|headers? (?:is|are) following)/im,
  /^-+ ?Original message/im,
  /^-+ ?Returned message/im,
  /^-+ ?(?:Unsent|Undelivered) message/im,
  /^[ \t]*Original message headers:/im,
  /^-+ ?Message header follows/im,
  /^-+ ?The header of the original message/im,
  /^-+ ?Original message header/im,
  /^Content-Type: message\/rfc822/im,
  /^Content-Type: text\/rfc822-headers/im,
  /^-+ ?Forwarded message/im,
  /^[ \t]*--- The header of the original message is following/im,
  /^[ \t]*Below is a copy of the original message/im,
  /^[ \t]*The text you sent follows:/im,
  /^[ \t]*-+ ?Message Headers? ?-+/im,
  /^[ \t]*Return-Path: <[^>\n]*>[ \t]*\n[ \t]*Received:/im,
  /^[ \t]*Message headers follow/im,
  /^-+ ?Enclosed is a copy of the message/im,
];

const boilerplate = [
  /this is a permanent error[^.\n]*\.?/gi,
  /I've given up\.?/gi,
  /sorry it didn't work out\.?/gi,
  /I'm afraid I wasn't able to deliver your message to the following addresses\.?/gi,
  /This message was created automatically by mail delivery software\.?/gi,
  /please (?:send mail to|contact) (?:your )?<?postmaster[^>\n]*>?/gi,
  /For further assistance[^\n]*/gi,
  /If you do so, please include this problem report[^\n]*/gi,
  /You can delete your own text from the attached returned message\.?/gi,
  /The mail system/gi,
  /I'm sorry to have to inform you that your message could not\s+be delivered to one or more recipients\.?/gi,
  /It's attached below\.?/gi,
];

/**
 * How much of a message the text scans read. A notification says what failed near its top; what
 * lies past these bounds is never scanned, so the work per message is bounded whatever its size.
 */
export const plainScanLimits = {
  /** Characters of the human-readable text scanned for addresses and failure wording. */
  noticeChars: 128 * 1024,
  /** A longer line is cut there before it is read. */
  lineChars: 4000,
  /** Distinct addresses weighed in one notice. */
  addresses: 200,
};

/** Addresses in a header value (one pass, bounded). */
function addressesOf(value: string | undefined): string[] {
  return findAddresses((value ?? '').slice(0, plainScanLimits.lineChars), 50).map((a) => a.address);
}

/** Lines that name the remote side or our side, never a failed recipient. */
function excludedAddresses(parts: MessageParts): Set<string> {
  const out = new Set<string>();
  const add = (v: string | undefined) => {
    for (const a of addressesOf(v)) out.add(a);
  };
  add(headerValue(parts.headers, 'to'));
  add(headerValue(parts.headers, 'from'));
  add(headerValue(parts.headers, 'reply-to'));
  add(headerValue(parts.headers, 'return-path'));
  for (const block of parts.originalHeaders) {
    const h = parseHeaderBlock(block);
    add(headerValue(h, 'from'));
    add(headerValue(h, 'return-path'));
    add(headerValue(h, 'reply-to'));
    add(headerValue(h, 'sender'));
  }
  return out;
}

const failureWords = /doesn't have|discontinued|unknown|not found|no such|invalid|does not exist|doesn't exist|full|quota|reject|refused|denied|disabled|failed|error|unavailable|not deliver|undeliverable|permanent|blocked|expired|timeout|timed out|delayed|could not|couldn't|unable|problem|exceeded|not collected/i;
const notRecipientLocal = /^(?:mailer-daemon|mail-daemon|abuse|hostmaster|webmaster|root|noreply|no-reply)$/i;

function layoutOf(text: string, parts: MessageParts): string {
  const rules: Array<[string, RegExp]> = [
    ['qmail', /This is the qmail-send program|qmail-send|\(#\d\.\d\.\d\)/i],
    ['exim', /This message was created automatically by mail delivery software|SMTP error from remote mail server|The following address\(es\) failed/i],
    ['postfix', /This is the mail system at host|Postfix program/i],
    ['sendmail', /The original message was received at|----- Transcript of session follows -----|The following addresses had permanent fatal errors|No Message Collected/i],
    ['exchange', /did not reach (?:some or all of )?the intended recipient|Microsoft Exchange|Diagnostic information for administrators|could not be delivered to the following recipient|The following recipient\(s\) (?:could not|cannot) be reached/i],
    ['gmail', /Delivery to the following recipient(?:s)? (?:failed|has been delayed)|Technical details of (?:permanent|temporary) failure|Google tried to deliver your message/i],
    ['yahoo', /Sorry, we were unable to deliver your message|Remote host said:/i],
    ['lotus', /Lotus|Domino|Notes/i],
    ['courier', /Courier mail server|courier/i],
    ['opensmtpd', /OpenSMTPD|Hi! {0,9}\n?[ \t]*This is the MAILER-DAEMON/i],
  ];
  const subject = parts.subject.slice(0, 1000);
  for (const [name, re] of rules) if (re.test(text) || re.test(subject)) return name;
  return 'generic';
}

function cutOriginal(text: string): string {
  let end = text.length;
  for (const marker of originalMarkers) {
    const m = marker.exec(text);
    if (m && m.index < end && m.index > 0) end = m.index;
  }
  return text.slice(0, end);
}

/** Inline RFC 3464 field groups (Final-Recipient ... Action ... Status) in plain text. */
function inlineDsn(text: string): string[] {
  const start = text.search(/^(?:Reporting-MTA|Final-Recipient|Original-Recipient):/im);
  if (start < 0) return [];
  const rest = text.slice(start);
  if (!/^Action:/im.test(rest) || !/^(?:Final|Original)-Recipient:/im.test(rest)) return [];
  return [rest.split(/\n(?=[^\n]*\n\n(?:Return-Path|Received|From|Message-Id|Content-Type):)/i)[0] as string];
}

/** Where an address stands alone on its line, or leads it ("<a@b>:", "a@b on host ..."). */
function leadsLine(line: string, index: number, end: number): { leads: boolean; alone: boolean } {
  const before = line.slice(0, index);
  if (!/^[ \t]*(?:[-*>][ \t]*)?<?$/.test(before.length > 40 ? 'x' : before)) return { leads: false, alone: false };
  const after = line.slice(end, end + 40);
  const alone = /^>?:?[ \t.]*$/.test(line.length - end > 40 ? 'x' : after);
  return { leads: alone || /^>?(?:[ \t]*:|[ \t]+(?:on|\(|\[))/.test(after), alone };
}

/** A line that begins with (or is only about) another address starts that address's section. */
function startsWithOtherAddress(line: string, current: string): boolean {
  const all = findAddresses(line, 20);
  const first = all[0];
  if (!first) return false;
  if (leadsLine(line, first.index, first.end).leads) return first.address !== current;
  return !all.some((a) => a.address === current) && !/said|host|reply|error|\b[45]\d\d\b/i.test(line);
}

const recordLines = /^[ \t]*(?:Message-Id|References|In-Reply-To|Received|Reporting-MTA|Remote-MTA|Arrival-Date|X-Postfix-Sender|DKIM-Signature|Return-Path):/i;

function scanAddresses(lines: string[], excluded: Set<string>, failed: string[]): Map<string, PlainFailure> {
  const found = new Map<string, PlainFailure>();
  let weighed = 0;
  for (let i = 0; i < lines.length && weighed < plainScanLimits.addresses; i++) {
    const line = lines[i] as string;
    // Message-IDs and trace lines carry addresses that are never recipients.
    if (!line.includes('@') || recordLines.test(line)) continue;
    for (const m of findAddresses(line, plainScanLimits.addresses)) {
      const { address } = m;
      const local = address.slice(0, address.lastIndexOf('@'));
      if (excluded.has(address) && !failed.includes(address)) continue;
      if (notRecipientLocal.test(local) || (/^postmaster$/i.test(local) && /contact|send mail to|please|administrator/i.test(line))) continue;
      if (found.has(address)) continue;
      if (++weighed > plainScanLimits.addresses) break;
      // The address as written, with its angle brackets.
      const from = line[m.index - 1] === '<' ? m.index - 1 : m.index;
      const to = line[m.end] === '>' ? m.end + 1 : m.end;
      // What is said about this address: the rest of its line and the lines that follow, until a blank line or the next address.
      const rest = line.slice(to);
      const following: string[] = [];
      let j = i + 1;
      for (; j < lines.length && following.length < 8; j++) {
        const next = lines[j] as string;
        if (!next.trim()) {
          if (following.length || rest.replace(/[\s:.>)(]/g, '').length > 3) break;
          continue;
        }
        if (startsWithOtherAddress(next, address)) break;
        following.push(next.trim());
      }
      let said = [rest, ...following].join(' ');
      if (!/\b[245]\d\d\b|\b[245]\.\d{1,3}\.\d{1,3}\b/.test(said)) {
        // The remote reply may come a paragraph later ("The error that the other server returned was:").
        for (let k = j; k < lines.length && k < j + 12; k++) {
          const next = lines[k] as string;
          if (startsWithOtherAddress(next, address)) break;
          if (/^[ \t]*[245]\d\d[ -]|\b[245]\.\d{1,3}\.\d{1,3}\b|remote host said|said:/i.test(next)) {
            const paragraph: string[] = [];
            for (let q = k; q < lines.length && (lines[q] as string).trim() && paragraph.length < 6; q++) paragraph.push((lines[q] as string).trim());
            said = `${said} ${paragraph.join(' ')}`;
            break;
          }
        }
      }
      const before = i > 0 ? (lines[i - 1] as string) : '';
      const diagnostic = [line.slice(0, from).replace(/[<>]/g, ''), said].join(' ').replace(/\s+/g, ' ').trim().slice(0, 2000);
      // "<addr>:" alone on its line heads that address's section (qmail, Yahoo and their kin).
      const { leads, alone: heading } = leadsLine(line, m.index, m.end);
      const lineCode = leads && /\b[245]\d\d\b|\b[245]\.\d{1,3}\.\d{1,3}\b/.test(rest);
      found.set(address, { recipient: address, diagnostic: diagnostic || before.trim().slice(0, 2000), status: findStatus(diagnostic), replyCode: findReplyCode(diagnostic), heading, lineCode, attribution: 'text' });
    }
  }
  return found;
}

/** The registrable part of a domain, roughly: example.co.uk, example.com (no public suffix list). */
export function organisationDomain(domain: string): string {
  const labels = domain.toLowerCase().split('.');
  if (labels.length <= 2) return labels.join('.');
  const [sld, tld] = labels.slice(-2) as [string, string];
  const keep = tld.length === 2 && (sld.length <= 3 || /^(?:co|ac|ne|or|go|ed|gv|com|net|org|edu|gov|mil|nhs|ltd|plc)$/.test(sld)) ? 3 : 2;
  return labels.slice(-keep).join('.');
}

/** A line that introduces a list of recipients ("Your mail to the following recipients could not be delivered"). */
const recipientListIntro = /\b(?:following (?:recipients?|addresses|address(?:\(es\))?|users?|mailbox(?:es)?|destinations?)|(?:undeliverable|not (?:be )?delivered|could not be delivered) to the following:|(?:recipients?|addressees?|users?) (?:listed )?below|could not be delivered to|unable to deliver (?:your )?(?:mail|message) to|unknown (?:users?|recipients?|mailbox(?:es)?)|undeliverable to|not accepting mail)\b/i;
const bareLocalPart = /^[ \t]*<?([A-Za-z0-9][A-Za-z0-9._+=-]{0,63})>?(?:[ \t]*\([^()\n]{1,80}\))?:?[ \t]*$/;
const notALocalPart = /^(?:to|from|the|and|or|for|error|errors|reason|reasons|details?|recipients?|addresses|users?|mailbox(?:es)?|sorry|thanks|thank|regards|hello|hi|dear|postmaster|mailer-daemon|sincerely|note|warning|failed|permanent|temporary|subject|date|message|original|unknown|none)$/i;

/**
 * Some providers (AOL's "Mail Delivery Problem" among them) list only the local parts of the
 * addresses that failed, under a line that introduces them: each is that local part at the
 * reporting domain (the domain of the bounce's From), never the greeting's or our own address.
 */
function bareLocalParts(lines: string[], parts: MessageParts): PlainFailure[] {
  const daemon = /^(?:mailer-daemon|mail-daemon|postmaster|mailerdaemon|mail\.?delivery|bounces?)@/i.test(parts.from);
  const at = parts.from.lastIndexOf('@');
  if (!daemon || at < 0) return [];
  const domain = organisationDomain(parts.from.slice(at + 1));
  const out: PlainFailure[] = [];
  for (let i = 0; i < lines.length && i < 400; i++) {
    if (!recipientListIntro.test(lines[i] as string)) continue;
    // The introduction may run on to a line ending with a colon; the list starts after it.
    let first = i + 1;
    for (let k = i; k < lines.length && k < i + 3; k++) {
      if ((lines[k] as string).trimEnd().endsWith(':')) {
        first = k + 1;
        break;
      }
    }
    let items = 0;
    for (let j = first; j < lines.length && j < first + 12; j++) {
      const line = lines[j] as string;
      if (!line.trim()) {
        if (items) break;
        continue;
      }
      const m = bareLocalPart.exec(line);
      if (!m || notALocalPart.test(m[1] as string)) break;
      items++;
      const address = `${(m[1] as string).toLowerCase()}@${domain}`;
      const said = lines.slice(i, first).map((l) => l.trim()).join(' ').slice(0, 500);
      if (!out.some((f) => f.recipient === address)) out.push({ recipient: address, diagnostic: said, attribution: 'text' });
    }
    if (out.length) break;
  }
  return out;
}

/** The notice in a text: up to the quoted original, lines cut to a bounded length. */
function noticeOf(text: string): { head: string; notice: string; lines: string[] } {
  const head = text.slice(0, plainScanLimits.noticeChars).replace(/\r\n?/g, '\n');
  const notice = cutOriginal(head);
  return { head, notice, lines: notice.split('\n').map((l) => (l.length > plainScanLimits.lineChars ? l.slice(0, plainScanLimits.lineChars) : l)) };
}

/** The message body as received, for when MIME decoding lost the notice (a broken part, a nested report). */
function rawBody(parts: MessageParts): string {
  const start = parts.raw.search(/\r?\n\r?\n/);
  return start < 0 ? '' : parts.raw.slice(start, start + plainScanLimits.noticeChars);
}

export function findPlainFailures(parts: MessageParts): PlainReading {
  const excluded = excludedAddresses(parts);
  const failed = addressesOf(headerValue(parts.headers, 'x-failed-recipients'));
  let { head, notice, lines } = noticeOf(parts.text);
  let found = scanAddresses(lines, excluded, failed);
  if (!found.size && !failed.length) {
    const fromRaw = noticeOf(rawBody(parts));
    const foundRaw = scanAddresses(fromRaw.lines, excluded, failed);
    if (foundRaw.size) ({ head, notice, lines } = fromRaw), (found = foundRaw);
  }
  const layout = layoutOf(notice, parts);
  const delayed = /\b(?:has been delayed|will (?:continue|keep) (?:trying|to try)|will retry|still trying|delivery (?:has been )?delayed|not yet been delivered|warning: message .{0,200}delayed|delay(?:ed)? (?:notice|notification|mail)|temporarily unable to deliver)\b/i.test(notice) || /\bdelay/i.test(parts.subject.slice(0, 1000));
  let summary = notice;
  for (const b of boilerplate) summary = summary.replace(b, ' ');
  summary = summary.replace(/\s+/g, ' ').trim().slice(0, 2000);

  let failures = [...found.values()];
  if (!failures.length && !failed.length) failures = bareLocalParts(lines, parts);
  // Anonymised or self-addressed bounces name the sender as the recipient: look again without
  // exclusions, but only at an address that heads its own section or carries a reply code on its
  // line (never a greeting, "Dear news@...", nor a mention in the prose).
  if (!failures.length) {
    found = scanAddresses(lines, new Set(), failed);
    failures = [...found.values()].filter((f) => f.heading || f.lineCode);
  }
  if (failed.length) {
    failures = failed.map((a) => ({ ...(found.get(a) ?? { recipient: a, diagnostic: summary }), attribution: 'header' as const }));
  } else {
    // Keep the addresses the text talks about as failures: with an error code or failure words nearby.
    const strong = failures.filter((f) => f.status || f.replyCode || f.heading || failureWords.test(f.diagnostic));
    failures = strong.length ? strong : failures.slice(0, 1);
  }
  if (!failures.length && failureWords.test(summary)) {
    // Nothing in the text names an address: the returned original's To is the best we have.
    for (const block of parts.originalHeaders) {
      const to = firstAddress(headerValue(parseHeaderBlock(block), 'to')?.slice(0, plainScanLimits.lineChars) ?? '');
      if (to) {
        failures = [{ recipient: to, diagnostic: summary.slice(0, 1000), status: findStatus(summary), replyCode: findReplyCode(summary), attribution: 'returned-headers' }];
        break;
      }
    }
  }
  for (const f of failures) {
    if (f.diagnostic.length < 12 || (!f.status && !f.replyCode && summary.length < 1500 && !/unknown|not found|no such|full|quota|reject|refused|denied|disabled|expired/i.test(f.diagnostic))) {
      f.diagnostic = `${f.diagnostic} ${summary}`.trim().slice(0, 1000);
      f.status ??= findStatus(summary);
      f.replyCode ??= findReplyCode(summary);
    }
  }
  const embedded = inlineDsn(head);
  return { failures, summary, layout, embeddedDsn: embedded.length ? embedded : inlineDsn(rawBody(parts).replace(/\r\n?/g, '\n')), delayed };
}
