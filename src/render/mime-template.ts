/** The MIME message built once per edition with per-reader slots, and the splice that personalises a copy. */
import { randomBytes } from 'node:crypto';
import { domainToASCII } from 'node:url';
import addressparser from 'nodemailer/lib/addressparser';
import type { EditionHeaders, MessageValues, RenderedEdition, SlotName } from './contract';
import { escapeHtml, isSlotName, slotValue, splitSlots } from './slots';

/**
 * The MIME message of an edition is a template too (design notes, "the hidden bottleneck").
 *
 * buildMimeTemplate() runs ONCE per edition: it writes every header and both body parts
 * (multipart/alternative: text/plain then text/html, UTF-8, quoted-printable), leaving a slot
 * wherever a per-message value goes. personaliseMessage() runs per message and only encodes the
 * handful of slot values and splices them between pre-encoded static bytes.
 *
 * Why quoted-printable splices exactly: every separately encoded piece (each static run of the
 * body and each slot value) ends at a line end, either a hard CRLF of its own or a soft line break
 * "=\r\n", which decoders delete. So the decoded body is exactly the concatenation of the
 * decoded pieces, no encoded line is longer than 76 characters, and a multi-byte UTF-8 character
 * is never cut between pieces. Slot values in the HTML part are HTML-escaped first; in the text
 * part they go in raw. The boundary contains "=_", which quoted-printable output can never
 * contain, so no body can collide with it.
 *
 * A MimeTemplate is plain JSON (store it in Redis with JSON.stringify); a worker turns it into a
 * PreparedMimeTemplate (static pieces as Buffers) once per edition with prepareMimeTemplate() or
 * loadMimeTemplate(), and keeps that per edition id.
 */

export const MIME_TEMPLATE_FORMAT = 'daybreak-mime/1';

/** A per-message place in the MIME template, and how its value is encoded there. */
export type MimeSlot =
  | { slot: SlotName; enc: 'qp-html' | 'qp-text' | 'header-url' }
  | { slot: 'unsubscribeMailto'; enc: 'header-url' }
  | { slot: 'to'; enc: 'to-line' }
  | { slot: 'date'; enc: 'date' }
  | { slot: 'messageId'; enc: 'message-id' };

/** A static run of the message (already-encoded ASCII) or a slot. */
export type MimeSegment = string | MimeSlot;

export interface MimeTemplate {
  format: typeof MIME_TEMPLATE_FORMAT;
  boundary: string;
  /** Domain appended to MessageValues.messageId when it has none. */
  messageIdDomain: string;
  segments: MimeSegment[];
  /** Bytes of all static segments: a message is this plus its encoded values. */
  staticBytes: number;
}

export interface PreparedMimeTemplate {
  readonly prepared: true;
  readonly template: MimeTemplate;
  readonly parts: ReadonlyArray<Buffer | MimeSlot>;
  readonly staticBytes: number;
}

const MAX_LINE = 78;
const QP_MAX_LINE = 76;

// ---------------------------------------------------------------------------------------------
// Quoted-printable (RFC 2045 6.7), one independently decodable piece at a time.

const HEX = '0123456789ABCDEF';
const hexByte = (b: number): string => `=${HEX[b >> 4]}${HEX[b & 15]}`;
/** Literal: printable ASCII except '=', plus space and tab (encoded when they end a line). */
const QP_TOKEN: readonly string[] = Array.from({ length: 256 }, (_, b) =>
  (b >= 33 && b <= 126 && b !== 61) || b === 32 || b === 9 ? String.fromCharCode(b) : hexByte(b),
);

/** True when bytes[i..] is "From " (a line starting so gets mangled by mbox tools). */
function isFromAt(bytes: Uint8Array, i: number): boolean {
  return bytes[i] === 0x46 && bytes[i + 1] === 0x72 && bytes[i + 2] === 0x6f && bytes[i + 3] === 0x6d && bytes[i + 4] === 0x20;
}

/**
 * Encodes a piece of a text body as quoted-printable starting at column 0 and ending at a line
 * end: a line break in the input becomes a CRLF (hard break), and a trailing partial line ends
 * with a soft break "=\r\n". Lines are at most 76 characters. A line never starts with '.' or
 * "From " literally (SMTP dot-stuffing, mbox). The empty string encodes to the empty string.
 */
export function encodeQpPiece(value: string): string {
  if (value === '') return '';
  // Fast path (most slot values): printable ASCII without '=', short enough for one line.
  if (value.length <= QP_MAX_LINE - 1 && /^[\x21-\x3c\x3e-\x7e][\x20-\x3c\x3e-\x7e]*$/.test(value) && value[0] !== '.' && !value.startsWith('From ')) {
    return `${value}=\r\n`;
  }
  const bytes = Buffer.from(value, 'utf8');
  const out: string[] = [];
  let line = '';
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === 0x0d || b === 0x0a) {
      if (b === 0x0d && bytes[i + 1] === 0x0a) continue; // CRLF: the LF breaks the line
      const last = line.charCodeAt(line.length - 1);
      if (last === 32 || last === 9) {
        // Whitespace at the end of an encoded line would be stripped in transit: encode it.
        const head = line.slice(0, -1);
        const ws = hexByte(last);
        if (head.length + ws.length > QP_MAX_LINE) {
          out.push(head, '=\r\n');
          line = ws;
        } else line = head + ws;
      }
      out.push(line, '\r\n');
      line = '';
      continue;
    }
    let token = QP_TOKEN[b];
    if (line.length + token.length > QP_MAX_LINE - 1) {
      out.push(line, '=\r\n');
      line = '';
    }
    if (line === '' && (b === 0x2e || isFromAt(bytes, i))) token = hexByte(b);
    line += token;
  }
  if (line !== '') out.push(line, '=\r\n');
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// Headers

function assertOneLine(value: string, what: string): void {
  if (/[\r\n\0]/.test(value)) throw new Error(`${what}: CR, LF or NUL not allowed in a header value`);
}

/** RFC 2047 Q-encoding, restricted to the characters allowed in a phrase (5.3). */
function qEncodedWords(text: string): string[] {
  const limit = 75 - '=?UTF-8?Q?'.length - '?='.length;
  const words: string[] = [];
  let current = '';
  for (const ch of text) {
    let enc: string;
    if (ch === ' ') enc = '_';
    else if (/^[A-Za-z0-9!*+\-/]$/.test(ch)) enc = ch;
    else {
      enc = '';
      for (const b of Buffer.from(ch, 'utf8')) enc += hexByte(b);
    }
    // Whole characters per word (RFC 2047 5): never split a code point's bytes between words.
    if (current.length + enc.length > limit && current !== '') {
      words.push(`=?UTF-8?Q?${current}?=`);
      current = '';
    }
    current += enc;
  }
  if (current !== '') words.push(`=?UTF-8?Q?${current}?=`);
  return words;
}

const ATOM_PHRASE = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+( [A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+)*$/;

/** A display name as header tokens: atoms, one quoted-string, or encoded-words when non-ASCII. */
export function phraseTokens(name: string, what = 'display name'): string[] {
  assertOneLine(name, what);
  const trimmed = name.trim();
  if (trimmed === '') return [];
  const ascii = /^[\x20-\x7e]*$/.test(trimmed);
  const looksEncoded = trimmed.includes('=?'); // would be decoded as an encoded-word by readers
  if (ascii && !looksEncoded) {
    if (ATOM_PHRASE.test(trimmed)) return trimmed.split(' ');
    const quoted = `"${trimmed.replace(/[\\"]/g, '\\$&')}"`;
    if (quoted.length <= 60) return [quoted];
  }
  return qEncodedWords(trimmed);
}

/** Unstructured text (Subject): words as they are when plain ASCII, else encoded-words. */
function textTokens(text: string, what: string): string[] {
  assertOneLine(text, what);
  const trimmed = text.trim().replace(/\s+/g, ' ');
  if (trimmed === '') return [];
  if (/^[\x21-\x7e]+( [\x21-\x7e]+)*$/.test(trimmed) && !trimmed.includes('=?')) return trimmed.split(' ');
  return qEncodedWords(trimmed);
}

/** `Name: tok tok` folded at token boundaries so lines stay within 78 characters, CRLF-terminated. */
export function foldHeader(name: string, tokens: readonly string[]): string {
  let line = `${name}:`;
  const lines: string[] = [];
  let onFirst = true;
  for (const token of tokens) {
    if (line.length + 1 + token.length > MAX_LINE && !(onFirst && line.length === name.length + 1)) {
      lines.push(line);
      line = ` ${token}`;
      onFirst = false;
    } else line += ` ${token}`;
  }
  lines.push(line);
  return `${lines.join('\r\n')}\r\n`;
}

const DOT_ATOM = /^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$/;
const DOMAIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,62})(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}))*$/;

/** An addr-spec for a header: dot-atom local part, domain as ASCII (IDN to punycode). */
export function normaliseAddress(email: string, what = 'address'): string {
  assertOneLine(email, what);
  const at = email.lastIndexOf('@');
  if (at < 1 || at === email.length - 1) throw new Error(`${what}: not an email address: ${JSON.stringify(email)}`);
  const local = email.slice(0, at);
  let domain = email.slice(at + 1);
  if (!DOT_ATOM.test(local)) throw new Error(`${what}: unsupported local part in ${JSON.stringify(email)}`);
  if (!/^[\x20-\x7e]*$/.test(domain)) domain = domainToASCII(domain);
  if (!domain || !DOMAIN.test(domain)) throw new Error(`${what}: bad domain in ${JSON.stringify(email)}`);
  return `${local}@${domain}`;
}

export function mailboxTokens(mailbox: { name?: string; email: string }, what: string): string[] {
  const address = normaliseAddress(mailbox.email, what);
  const phrase = mailbox.name ? phraseTokens(mailbox.name, what) : [];
  return phrase.length === 0 ? [address] : [...phrase, `<${address}>`];
}

/** Parses a configured mailbox such as `Daybreak National <national@daybreak.example>`. */
function parseMailbox(value: string, what: string): { name?: string; email: string } {
  assertOneLine(value, what);
  const parsed = addressparser(value, { flatten: true });
  if (parsed.length !== 1 || !parsed[0].address) throw new Error(`${what}: expected one mailbox, got ${JSON.stringify(value)}`);
  return { name: parsed[0].name || undefined, email: parsed[0].address };
}

/** RFC 5322 date-time in UTC, e.g. `Tue, 24 Nov 2026 06:00:00 +0000`. */
export function formatRfc5322Date(date: Date): string {
  if (!(date instanceof Date) || Number.isNaN(date.getTime())) throw new Error('date: not a valid Date');
  return date.toUTCString().replace(/GMT$/, '+0000');
}

function formatMessageId(messageId: string, domain: string): string {
  assertOneLine(messageId, 'messageId');
  const bare = messageId.replace(/^<|>$/g, '');
  const at = bare.lastIndexOf('@');
  const id = at < 0 ? `${bare}@${domain}` : bare;
  const [left, right] = [id.slice(0, id.lastIndexOf('@')), id.slice(id.lastIndexOf('@') + 1)];
  if (!DOT_ATOM.test(left) || !DOMAIN.test(right) || id.length > 250) throw new Error(`messageId: not a valid id: ${JSON.stringify(messageId)}`);
  return id;
}

function headerUrl(url: string, what: string): string {
  assertOneLine(url, what);
  if (!/^(?:https?:\/\/|mailto:)[\x21-\x7e]+$/i.test(url) || /[<>]/.test(url)) {
    throw new Error(`${what}: must be an http(s) or mailto URL of printable ASCII without spaces or <>: ${JSON.stringify(url)}`);
  }
  if (url.length > 900) throw new Error(`${what}: URL too long for a header line`);
  return url;
}

/** List-Id: `phrase <list-id>` (RFC 2919); a bare id is accepted. */
function listIdTokens(value: string): string[] {
  assertOneLine(value, 'listId');
  const m = /^(.*?)\s*<([^<>\s]+)>\s*$/.exec(value.trim());
  const phrase = m ? m[1] : '';
  const id = m ? m[2] : value.trim();
  if (!/^[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+$/.test(id) || !id.includes('.')) throw new Error(`listId: not a list id: ${JSON.stringify(value)}`);
  return [...(phrase ? phraseTokens(phrase, 'listId') : []), `<${id}>`];
}

// ---------------------------------------------------------------------------------------------
// Build once per edition

class SegmentList {
  readonly segments: MimeSegment[] = [];
  text(s: string): void {
    if (s === '') return;
    const last = this.segments[this.segments.length - 1];
    if (typeof last === 'string') this.segments[this.segments.length - 1] = last + s;
    else this.segments.push(s);
  }
  slot(s: MimeSlot): void {
    this.segments.push(s);
  }
}

/** A body (with slot markers) as pre-encoded QP runs and slots. */
function addQpBody(list: SegmentList, body: string, enc: 'qp-html' | 'qp-text'): void {
  const split = splitSlots(body.replace(/\r\n?/g, '\n'));
  list.text(encodeQpPiece(split.statics[0]));
  split.slots.forEach((slot, i) => {
    list.slot({ slot, enc });
    list.text(encodeQpPiece(split.statics[i + 1]));
  });
}

export interface BuildMimeOptions {
  /** Fixed boundary (tests); default random per edition. Must contain "=_" to be collision-free. */
  boundary?: string;
}

export function buildMimeTemplate(rendered: RenderedEdition, headers: EditionHeaders, options: BuildMimeOptions = {}): MimeTemplate {
  const boundary = options.boundary ?? `=_daybreak_${randomBytes(12).toString('hex')}`;
  if (!/^=_[A-Za-z0-9'()+_,./:?=-]{1,60}$/.test(boundary)) throw new Error('boundary: must start with "=_" and be at most 62 safe characters');
  const messageIdDomain = headers.messageIdDomain.trim();
  if (!DOMAIN.test(messageIdDomain)) throw new Error(`messageIdDomain: not a domain: ${JSON.stringify(headers.messageIdDomain)}`);

  const subject = headers.subject || rendered.subject;
  const list = new SegmentList();
  list.text(foldHeader('From', mailboxTokens(parseMailbox(headers.from, 'from'), 'from')));
  if (headers.replyTo) list.text(foldHeader('Reply-To', mailboxTokens(parseMailbox(headers.replyTo, 'replyTo'), 'replyTo')));
  list.slot({ slot: 'to', enc: 'to-line' });
  list.text(foldHeader('Subject', textTokens(subject, 'subject')));
  list.text('Date: ');
  list.slot({ slot: 'date', enc: 'date' });
  list.text('\r\nMessage-ID: <');
  list.slot({ slot: 'messageId', enc: 'message-id' });
  list.text('>\r\nMIME-Version: 1.0\r\n');
  list.text(foldHeader('List-Id', listIdTokens(headers.listId)));
  list.text('List-Unsubscribe: <');
  list.slot({ slot: 'unsubscribeUrl', enc: 'header-url' });
  list.text('>');
  if (headers.unsubscribeMailtoPerReader) {
    list.text(',\r\n <');
    list.slot({ slot: 'unsubscribeMailto', enc: 'header-url' });
    list.text('>');
  } else if (headers.unsubscribeMailto) {
    const mailto = headers.unsubscribeMailto.startsWith('mailto:') ? headers.unsubscribeMailto : `mailto:${headers.unsubscribeMailto}`;
    list.text(`,\r\n <${headerUrl(mailto, 'unsubscribeMailto')}>`);
  }
  list.text('\r\nList-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n');
  list.text(`Content-Type: multipart/alternative;\r\n boundary="${boundary}"\r\n\r\n`);

  const partHead = (type: string): string =>
    `--${boundary}\r\nContent-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n`;
  list.text(partHead('text/plain'));
  addQpBody(list, rendered.text, 'qp-text');
  list.text(`\r\n${partHead('text/html')}`);
  addQpBody(list, rendered.html, 'qp-html');
  list.text(`\r\n--${boundary}--\r\n`);

  let staticBytes = 0;
  for (const s of list.segments) {
    if (typeof s === 'string') {
      if (!/^[\x00-\x7f]*$/.test(s)) throw new Error('internal: non-ASCII static MIME segment');
      staticBytes += s.length;
    }
  }
  return { format: MIME_TEMPLATE_FORMAT, boundary, messageIdDomain, segments: list.segments, staticBytes };
}

// ---------------------------------------------------------------------------------------------
// Per message

function isMimeSlot(s: unknown): s is MimeSlot {
  if (typeof s !== 'object' || s === null) return false;
  const { slot, enc } = s as { slot?: unknown; enc?: unknown };
  if (typeof slot !== 'string' || typeof enc !== 'string') return false;
  switch (enc) {
    case 'qp-html':
    case 'qp-text':
    case 'header-url':
      return isSlotName(slot) || slot === 'unsubscribeMailto';
    case 'to-line':
      return slot === 'to';
    case 'date':
      return slot === 'date';
    case 'message-id':
      return slot === 'messageId';
    default:
      return false;
  }
}

/** Turns a (JSON-loaded) MimeTemplate into static Buffers once; validates its shape. */
export function prepareMimeTemplate(template: MimeTemplate): PreparedMimeTemplate {
  if (template?.format !== MIME_TEMPLATE_FORMAT || !Array.isArray(template.segments)) {
    throw new Error(`not a ${MIME_TEMPLATE_FORMAT} MIME template`);
  }
  let staticBytes = 0;
  const parts = template.segments.map((s): Buffer | MimeSlot => {
    if (typeof s === 'string') {
      const buf = Buffer.from(s, 'latin1');
      staticBytes += buf.length;
      return buf;
    }
    if (!isMimeSlot(s)) throw new Error(`bad MIME template segment ${JSON.stringify(s)}`);
    return s;
  });
  return { prepared: true, template, parts, staticBytes };
}

/** JSON (as stored in Redis) to a prepared template. */
export function loadMimeTemplate(json: string): PreparedMimeTemplate {
  return prepareMimeTemplate(JSON.parse(json) as MimeTemplate);
}

const preparedCache = new WeakMap<MimeTemplate, PreparedMimeTemplate>();

function toPrepared(template: MimeTemplate | PreparedMimeTemplate): PreparedMimeTemplate {
  if ('prepared' in template && template.prepared === true) return template;
  const raw = template as MimeTemplate;
  let prepared = preparedCache.get(raw);
  if (!prepared) {
    prepared = prepareMimeTemplate(raw);
    preparedCache.set(raw, prepared);
  }
  return prepared;
}

function slotString(values: MessageValues, name: SlotName | 'unsubscribeMailto'): string {
  const value = name === 'unsubscribeMailto' ? values.unsubscribeMailto : slotValue(values, name);
  if (typeof value !== 'string') throw new Error(`no value for slot "${name}"`);
  return value;
}

function encodeSlot(s: MimeSlot, values: MessageValues, messageIdDomain: string): string {
  switch (s.enc) {
    case 'qp-html':
      return encodeQpPiece(escapeHtml(slotString(values, s.slot)));
    case 'qp-text':
      return encodeQpPiece(slotString(values, s.slot));
    case 'header-url':
      return headerUrl(slotString(values, s.slot), s.slot);
    case 'to-line': {
      if (!values.to || typeof values.to.email !== 'string') throw new Error('to: missing');
      return foldHeader('To', mailboxTokens(values.to, 'to'));
    }
    case 'date':
      return formatRfc5322Date(values.date);
    case 'message-id':
      return formatMessageId(values.messageId, messageIdDomain);
  }
}

/**
 * One subscriber's message: encodes each slot value on its own and splices it between the
 * template's pre-encoded bytes. Pass the PreparedMimeTemplate (or the same MimeTemplate object
 * each time: it is prepared once and cached). Throws on a header value with CR/LF, a bad
 * address or URL: that message cannot be sent, the edition is fine.
 */
export function personaliseMessage(template: MimeTemplate | PreparedMimeTemplate, values: MessageValues): Buffer {
  const prepared = toPrepared(template);
  const domain = prepared.template.messageIdDomain;
  const parts = prepared.parts;
  // Encode the slot values first (each once: most occur 2-3 times), then copy everything into
  // one buffer. Every encoder yields 7-bit ASCII by construction, so latin1 writes are exact.
  const encoded = new Array<string | undefined>(parts.length);
  const memo = new Map<string, string>();
  let total = prepared.staticBytes;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (Buffer.isBuffer(part)) continue;
    const key = `${part.enc}:${part.slot}`;
    let value = memo.get(key);
    if (value === undefined) {
      value = encodeSlot(part, values, domain);
      memo.set(key, value);
    }
    encoded[i] = value;
    total += value.length;
  }
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i];
    if (Buffer.isBuffer(part)) at += part.copy(out, at);
    else at += out.write(encoded[i] as string, at, 'latin1'); // set in the loop above for every slot
  }
  if (at !== total) throw new Error('internal: MIME length mismatch');
  return out;
}
