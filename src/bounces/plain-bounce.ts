import { headerValue, parseHeaderBlock, type MessageParts } from './message-parts';
import { findReplyCode, findStatus } from './status-codes';

/**
 * Reading the human-readable part of a bounce (pure): which addresses failed and what the remote
 * server said about each. Non-standard bounces (qmail, Exim, old Sendmail, Exchange, Gmail,
 * Yahoo, ...) have no machine-readable part, and standard DSNs often put the best wording here.
 */
export interface PlainFailure {
  recipient: string;
  diagnostic: string;
  status?: string;
  replyCode?: number;
  action?: 'failed' | 'delayed';
  /** The address stood alone on its line, as the head of its own section. */
  heading?: boolean;
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
  /^\s*Original message headers:/im,
  /^-+ ?Message header follows/im,
  /^-+ ?The header of the original message/im,
  /^-+ ?Original message header/im,
  /^Content-Type: message\/rfc822/im,
  /^Content-Type: text\/rfc822-headers/im,
  /^-+ ?Forwarded message/im,
  /^\s*--- The header of the original message is following/im,
  /^\s*Below is a copy of the original message/im,
  /^\s*The text you sent follows:/im,
  /^\s*-+ ?Message Headers? ?-+/im,
  /^\s*Return-Path: <[^>]*>\s*\n\s*Received:/im,
  /^\s*Message headers follow/im,
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

/** Lines that name the remote side or our side, never a failed recipient. */
function excludedAddresses(parts: MessageParts): Set<string> {
  const out = new Set<string>();
  const add = (v: string | undefined) => {
    for (const m of (v ?? '').matchAll(/[\w.!#$%&'*+/=?^`{|}~-]+@[\w.-]+\w/g)) out.add(m[0].toLowerCase());
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

const addressGlobal = /<?([A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+)>?/g;
const failureWords = /doesn't have|discontinued|unknown|not found|no such|invalid|does not exist|doesn't exist|full|quota|reject|refused|denied|disabled|failed|error|unavailable|not deliver|undeliverable|permanent|blocked|expired|timeout|timed out|delayed|could not|couldn't|unable|problem|exceeded/i;
const addressOne = new RegExp(addressGlobal.source);
const notRecipientLocal = /^(?:mailer-daemon|mail-daemon|abuse|hostmaster|webmaster|root|noreply|no-reply)$/i;

function layoutOf(text: string, parts: MessageParts): string {
  const rules: Array<[string, RegExp]> = [
    ['qmail', /This is the qmail-send program|qmail-send|\(#\d\.\d\.\d\)/i],
    ['exim', /This message was created automatically by mail delivery software|SMTP error from remote mail server|The following address\(es\) failed/i],
    ['postfix', /This is the mail system at host|Postfix program/i],
    ['sendmail', /The original message was received at|----- Transcript of session follows -----|The following addresses had permanent fatal errors/i],
    ['exchange', /did not reach (?:some or all of )?the intended recipient|Microsoft Exchange|Diagnostic information for administrators|could not be delivered to the following recipient|The following recipient\(s\) (?:could not|cannot) be reached/i],
    ['gmail', /Delivery to the following recipient(?:s)? (?:failed|has been delayed)|Technical details of (?:permanent|temporary) failure|Google tried to deliver your message/i],
    ['yahoo', /Sorry, we were unable to deliver your message|Remote host said:/i],
    ['lotus', /Lotus|Domino|Notes/i],
    ['courier', /Courier mail server|courier/i],
    ['opensmtpd', /OpenSMTPD|Hi!\s+This is the MAILER-DAEMON/i],
  ];
  for (const [name, re] of rules) if (re.test(text) || re.test(parts.subject)) return name;
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
  if (start < 0 || !/^Action:/im.test(text.slice(start)) || !/^(?:Final|Original)-Recipient:/im.test(text.slice(start))) return [];
  return [text.slice(start).split(/\n(?=[^\n]*\n\n(?:Return-Path|Received|From|Message-Id|Content-Type):)/i)[0] as string];
}

/** A line that begins with (or is only about) another address starts that address's section. */
function startsWithOtherAddress(line: string, current: string): boolean {
  const lead = /^\s*(?:[-*>]\s*)?<?([^\s<>@]+@[^\s<>:]+?)>?(?:\s*:|\s*$|\s+(?:on|\(|\[))/.exec(line);
  if (lead) return (lead[1] as string).toLowerCase().replace(/\.$/, '') !== current;
  const all = [...line.matchAll(addressGlobal)].map((m) => (m[1] as string).toLowerCase());
  return all.length > 0 && !all.includes(current) && !/said|host|reply|error|\b[45]\d\d\b/i.test(line);
}

function scanAddresses(lines: string[], excluded: Set<string>, failed: string[]): Map<string, PlainFailure> {
  const found = new Map<string, PlainFailure>();
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] as string;
    // Message-IDs and trace lines carry addresses that are never recipients.
    if (/^\s*(?:Message-Id|References|In-Reply-To|Received|Reporting-MTA|Remote-MTA|Arrival-Date|X-Postfix-Sender):/i.test(line)) continue;
    for (const m of line.matchAll(addressGlobal)) {
      const address = (m[1] as string).toLowerCase().replace(/\.$/, '');
      const local = address.split('@')[0] as string;
      if (excluded.has(address) && !failed.includes(address)) continue;
      if (notRecipientLocal.test(local) || (/^postmaster$/i.test(local) && /contact|send mail to|please|administrator/i.test(line))) continue;
      if (found.has(address)) continue;
      // What is said about this address: the rest of its line and the lines that follow, until a blank line or the next address.
      const rest = line.slice((m.index ?? 0) + m[0].length);
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
          if (/^\s*[245]\d\d[ -]|\b[245]\.\d{1,3}\.\d{1,3}\b|remote host said|said:/i.test(next)) {
            const paragraph: string[] = [];
            for (let q = k; q < lines.length && (lines[q] as string).trim() && paragraph.length < 6; q++) paragraph.push((lines[q] as string).trim());
            said = `${said} ${paragraph.join(' ')}`;
            break;
          }
        }
      }
      const before = i > 0 ? (lines[i - 1] as string) : '';
      const diagnostic = [line.slice(0, m.index ?? 0).replace(/[<>]/g, ''), said].join(' ').replace(/\s+/g, ' ').trim();
      // "<addr>:" alone on its line heads that address's section (qmail, Yahoo and their kin).
      const heading = new RegExp(`^\\s*<?${address.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}>?:?\\s*$`, 'i').test(line);
      found.set(address, { recipient: address, diagnostic: diagnostic || before.trim(), status: findStatus(diagnostic), replyCode: findReplyCode(diagnostic), heading });
    }
  }
  return found;
}

export function findPlainFailures(parts: MessageParts): PlainReading {
  const full = parts.text.replace(/\r\n?/g, '\n');
  const notice = cutOriginal(full);
  const layout = layoutOf(notice, parts);
  const excluded = excludedAddresses(parts);
  const delayed = /\b(?:has been delayed|will (?:continue|keep) (?:trying|to try)|will retry|still trying|delivery (?:has been )?delayed|not yet been delivered|warning: message .* delayed|delay(?:ed)? (?:notice|notification|mail)|temporarily unable to deliver)\b/i.test(notice) || /\bdelay/i.test(parts.subject);
  let summary = notice;
  for (const b of boilerplate) summary = summary.replace(b, ' ');
  summary = summary.replace(/\s+/g, ' ').trim().slice(0, 2000);

  const failed = (headerValue(parts.headers, 'x-failed-recipients') ?? '').split(/[,\s]+/).map((a) => a.toLowerCase().replace(/^<|>$/g, '')).filter((a) => a.includes('@'));
  const lines = notice.split('\n');
  let found = scanAddresses(lines, excluded, failed);
  // Anonymised or self-addressed bounces name the sender as the recipient: look again without exclusions.
  if (found.size === 0) found = scanAddresses(lines, new Set(), failed);
  let failures = [...found.values()];
  if (failed.length) {
    failures = failed.map((a) => found.get(a) ?? { recipient: a, diagnostic: summary });
  } else {
    // Keep the addresses the text talks about as failures: with an error code or failure words nearby.
    const strong = failures.filter((f) => f.status || f.replyCode || f.heading || failureWords.test(f.diagnostic));
    failures = strong.length ? strong : failures.slice(0, 1);
  }
  if (!failures.length && failureWords.test(summary)) {
    // Nothing in the text names an address: the returned original's To is the best we have.
    for (const block of parts.originalHeaders) {
      const to = headerValue(parseHeaderBlock(block), 'to');
      const m = to ? addressOne.exec(to) : null;
      if (m) {
        failures = [{ recipient: (m[1] as string).toLowerCase(), diagnostic: summary.slice(0, 1000), status: findStatus(summary), replyCode: findReplyCode(summary) }];
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
  return { failures, summary, layout, embeddedDsn: inlineDsn(full), delayed };
}
