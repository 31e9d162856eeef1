/** A raw message split into the parts bounce parsing reads (headers, text, DSN fields, returned headers), within limits. */
import { simpleParser, type ParsedMail } from 'mailparser';
import { addressInValue } from './address-scan';

/**
 * The parts of an incoming message that bounce classification reads, decoded once by mailparser
 * (transfer encodings, charsets, MIME structure). Everything after this is pure string work.
 */

/** Why a message was refused rather than read: each is a clean answer, never a crash. */
export type BounceParseErrorCode = 'too-large' | 'mime-structure' | 'time-budget' | 'parser-failure';

/** A message the bounce parser refuses to read, with what to do about it on its last line. */
export class BounceParseError extends Error {
  constructor(readonly code: BounceParseErrorCode, message: string) {
    super(message);
    this.name = 'BounceParseError';
  }
}

/**
 * Limits on the MIME structure mailparser will build (its own defaults are 1 MB of headers per
 * part and 1,000 parts). A real bounce has a few parts and a few KB of headers; these leave room
 * for a returned message with attachments and a long Received chain.
 */
export const mimeLimits = {
  /** Header bytes of one MIME part. */
  maxHeadBytes: 256 * 1024,
  /** MIME parts in one message, nested ones included. */
  maxParts: 200,
  /** HTML longer than this is not turned into text (a bounce's HTML part is small). */
  maxHtmlChars: 1024 * 1024,
  /** Returned original messages looked for, and characters of each one's header block kept. */
  maxOriginals: 20,
  maxOriginalHeaderChars: 64 * 1024,
};
export interface MessageParts {
  /** Top-level headers, lower-cased names, unfolded values, in order (a name may repeat). */
  headers: Array<[string, string]>;
  subject: string;
  /** The bare From address, lower-cased ('' when there is none). */
  from: string;
  /** e.g. multipart/report */
  contentType: string;
  /** report-type parameter of a multipart/report: delivery-status, feedback-report, ... */
  reportType: string;
  /** The human-readable text (text/plain parts, or text made from HTML). */
  text: string;
  /** message/delivery-status (or message/global-delivery-status) bodies. */
  deliveryStatus: string[];
  /** message/feedback-report bodies (RFC 5965 ARF). */
  feedbackReport: string[];
  /** Header blocks of the returned original message, where the bounce included one. */
  originalHeaders: string[];
  /** The undecoded message, for finding VERP addresses and Message-IDs wherever they sit. */
  raw: string;
}

/** Unfolds a header block into [name, value] pairs (names lower-cased). */
export function parseHeaderBlock(block: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of block.replace(/\r\n?/g, '\n').split('\n')) {
    if (/^[ \t]/.test(line) && out.length) {
      const last = out[out.length - 1] as [string, string];
      last[1] = `${last[1]} ${line.trim()}`;
      continue;
    }
    const m = /^([!-9;-~]+):[ \t]*(.*)$/.exec(line);
    if (m) out.push([(m[1] as string).toLowerCase(), (m[2] as string).trim()]);
  }
  return out;
}

export function headerValue(headers: Array<[string, string]>, name: string): string | undefined {
  return headers.find(([n]) => n === name)?.[1];
}

const partHeaderTypes = /^content-type:[ \t]*(message\/rfc822|text\/rfc822-headers|message\/global|message\/global-headers)\b/im;

/**
 * Header blocks of embedded original messages, found in the raw source: mailparser reads
 * message/rfc822 parts into the text and keeps none of their headers, and attribution needs them
 * (Message-ID, To, Return-Path). Non-MIME bounces (qmail, Exim, old Sendmail) quote the original
 * after a marker line.
 */
export function findOriginalHeaderBlocks(raw: string): string[] {
  const text = raw.replace(/\r\n?/g, '\n');
  const blocks: string[] = [];
  const bodyStart = text.indexOf('\n\n');
  if (bodyStart < 0) return blocks;
  const body = text.slice(bodyStart + 2);
  const window = mimeLimits.maxOriginalHeaderChars;
  // Each look-ahead reads at most a window past its start, so many markers cost no more than one.
  const within = (needle: string, from: number) => {
    const i = body.slice(from, from + window).indexOf(needle);
    return i < 0 ? -1 : from + i;
  };
  // MIME: a part typed message/rfc822 or text/rfc822-headers; its own headers end at a blank line.
  const partRe = new RegExp(partHeaderTypes.source, 'gim');
  // Candidates examined are counted too: a body of nothing but such lines costs no more than a real one.
  let examined = 0;
  for (let m = partRe.exec(body); m && blocks.length < mimeLimits.maxOriginals && examined++ < 2 * mimeLimits.maxOriginals; m = partRe.exec(body)) {
    const partHeadersEnd = within('\n\n', m.index);
    if (partHeadersEnd < 0) continue;
    const partHeaders = body.slice(m.index, partHeadersEnd);
    let start = partHeadersEnd + 2;
    while (body[start] === '\n' && start < partHeadersEnd + 2 + window) start++;
    const end = within('\n\n', start);
    let block = body.slice(start, end < 0 ? start + window : end);
    if (/content-transfer-encoding:[ \t]*base64/i.test(partHeaders)) {
      const boundary = within('\n--', start);
      const decoded = Buffer.from(body.slice(start, boundary > 0 ? boundary : start + window).replace(/\s+/g, ''), 'base64').toString('latin1');
      block = decoded.replace(/\r\n?/g, '\n').split('\n\n')[0] ?? '';
    } else if (/content-transfer-encoding:[ \t]*quoted-printable/i.test(partHeaders)) {
      block = block.replace(/=\n/g, '').replace(/=([0-9A-F]{2})/gi, (_, h: string) => String.fromCharCode(parseInt(h, 16)));
    }
    if (/^[A-Za-z][\w-]*:/m.test(block)) blocks.push(block);
  }
  // Plain-text bounces: the original follows a marker, or simply appears as a run of header lines.
  const lines = body.slice(0, 8 * window).split('\n');
  for (let i = 0; i < lines.length && blocks.length < mimeLimits.maxOriginals; i++) {
    if (!/^[ \t]*(Return-Path|Received|Message-Id|From|To|Subject|Date|X-[\w-]+|Content-Type|MIME-Version|Delivered-To):[ \t]/i.test(lines[i] as string)) continue;
    let j = i;
    let count = 0;
    let strong = false;
    while (j < lines.length && (/^[ \t]*[A-Za-z][\w-]*:[ \t]?/.test(lines[j] as string) || (/^[ \t]+\S/.test(lines[j] as string) && j > i))) {
      if (/^[ \t]*(Message-Id|To|From|Subject|Date|Return-Path):/i.test(lines[j] as string)) strong = true;
      count++;
      j++;
    }
    if (count >= 3 && strong) blocks.push(lines.slice(i, j).map((l) => l.replace(/^[ \t]+(?=[A-Za-z][\w-]*:)/, '')).join('\n').slice(0, window));
    i = j;
  }
  return blocks;
}

function addressOnly(value: string): string {
  return addressInValue(value.slice(0, 4096));
}

function attachmentText(mail: ParsedMail, types: string[]): string[] {
  return mail.attachments.filter((a) => types.includes(a.contentType.toLowerCase())).map((a) => a.content.toString('utf8'));
}

/** Decodes a raw message into the parts bounce classification reads. */
export async function readMessageParts(raw: Buffer | string): Promise<MessageParts> {
  const buffer = typeof raw === 'string' ? Buffer.from(raw, 'utf8') : raw;
  let mail: ParsedMail;
  try {
    mail = await simpleParser(buffer, {
      keepDeliveryStatus: true, skipImageLinks: true, skipTextLinks: true, skipTextToHtml: true,
      maxHeadSize: mimeLimits.maxHeadBytes, maxChildNodes: mimeLimits.maxParts, maxHtmlLengthToParse: mimeLimits.maxHtmlChars,
    });
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (/max header size|max allowed child nodes|too (?:long|large|many)/i.test(message)) {
      throw new BounceParseError('mime-structure', `MIME structure refused (${message}): a bounce has at most ${mimeLimits.maxParts} parts and ${mimeLimits.maxHeadBytes / 1024} KB of headers per part; read this one by hand if it matters`);
    }
    throw new BounceParseError('parser-failure', `the MIME parser could not read the message (${message}); read it by hand if it matters`);
  }
  const rawText = buffer.toString('latin1');
  const headerEnd = rawText.search(/\r?\n\r?\n/);
  const headers = parseHeaderBlock(headerEnd < 0 ? rawText : rawText.slice(0, headerEnd));
  const ct = mail.headers.get('content-type') as { value?: string; params?: Record<string, string> } | undefined;
  let text = mail.text ?? '';
  // Some MTAs put the report's human part in text/plain attachments, or only in HTML.
  for (const extra of attachmentText(mail, ['text/plain'])) text += `\n${extra}`;
  const deliveryStatus = attachmentText(mail, ['message/delivery-status', 'message/global-delivery-status']);
  if (!text.trim() && !deliveryStatus.length && headerEnd >= 0) {
    // Broken MIME (a boundary that never appears, a multipart with none): read the body as it is.
    text = rawText.slice(headerEnd).replace(/^\r?\n\r?\n/, '');
  }
  const attachedHeaders = attachmentText(mail, ['text/rfc822-headers', 'message/global-headers']).map((h) => h.slice(0, mimeLimits.maxOriginalHeaderChars));
  const originalHeaders = [...attachedHeaders, ...findOriginalHeaderBlocks(rawText)].slice(0, mimeLimits.maxOriginals);
  return {
    headers,
    subject: mail.subject ?? '',
    from: addressOnly(headerValue(headers, 'from') ?? ''),
    contentType: (ct?.value ?? '').toLowerCase(),
    reportType: (ct?.params?.['report-type'] ?? '').toLowerCase(),
    text,
    deliveryStatus,
    feedbackReport: attachmentText(mail, ['message/feedback-report']),
    originalHeaders,
    raw: rawText,
  };
}
