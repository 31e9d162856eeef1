/**
 * How a reader is stored, compactly (pure): short hash fields, history and consent as strings of
 * small entries instead of JSON lists. The shapes callers see (Subscriber, SubscriberEvent,
 * ConsentRecord) are unchanged; only this file and the Lua that writes the same forms know them.
 */
import crypto from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';

/**
 * The record's hash fields: e email, n name, s status (p/c/u), l newsletters (comma-separated),
 * h the email's keyed hash (the Lua suppression check reads it: Lua cannot compute an HMAC),
 * t created (epoch ms), u updated and f confirmed (ms after created: small integers, which a
 * listpack keeps in one or two bytes), o source, w the welcome owed (`<nonce>|<kind>|<newsletters>`)
 * and v the nonce of the last welcome sent, z the reader's time zone. The id is the key's; nothing
 * else is stored.
 */
export const recordFields = {
  email: 'e', name: 'n', status: 's', newsletters: 'l', emailHash: 'h', createdAt: 't', updatedAt: 'u', confirmedAt: 'f', source: 'o',
  welcomeDue: 'w', welcomeSent: 'v',
  // The reader's own time zone (IANA; absent: the newsletter's), for newsletters sent in readers' zones.
  timezone: 'z',
} as const;

export type RecordField = keyof typeof recordFields;

export const statusCodes = { pending: 'p', confirmed: 'c', unsubscribed: 'u' } as const;
const statusByCode: Record<string, keyof typeof statusCodes> = { p: 'pending', c: 'confirmed', u: 'unsubscribed' };

export function statusOf(code: string | undefined): keyof typeof statusCodes {
  return statusByCode[code ?? ''] ?? 'pending';
}

/** Entries of a history or consent string are split by RS, their fields by US: JSON never holds either raw. */
export const entrySeparator = '\x1e';
export const fieldSeparator = '\x1f';

/** Free text (a form name, a user agent, a reason) with the two separators made spaces. */
export function cleanText(value: string): string {
  return value.replace(/[\x1e\x1f]/g, ' ');
}

/** Epoch ms in base 36: 8 characters for this century. */
export function timeCode(at: Date | string | number): string {
  return new Date(at).getTime().toString(36);
}

function timeOf(code: string): string {
  return new Date(parseInt(code, 36)).toISOString();
}

/** The events the code writes, one letter each; any other event is kept as written. */
const eventCodes: Record<string, string> = {
  created: 'C', imported: 'I', updated: 'U', confirmed: 'F', unsubscribed: 'X', 'sign-up requested': 'S', 'name changed': 'N',
  resubscribed: 'R', 'preferences changed': 'P', complained: 'K', 'unsubscribed-at-provider': 'Y', 'bounced-hard': 'H', 'bounced-soft': 'B',
  'bounced-delayed': 'D', welcomed: 'W', 'welcome sent': 'M', 'welcome skipped': 'Q',
};
const eventByCode = Object.fromEntries(Object.entries(eventCodes).map(([event, code]) => [code, event]));

function eventCode(event: string): string {
  const code = eventCodes[event];
  if (code) return code;
  // An event written as it is must not read as a code: one letter long, or starting with '=', it is escaped.
  return event.length === 1 || event.startsWith('=') ? `=${cleanText(event)}` : cleanText(event);
}

function eventOf(code: string): string {
  if (code.startsWith('=')) return code.slice(1);
  return code.length === 1 ? (eventByCode[code] ?? code) : code;
}

export interface StoredEvent {
  at: string;
  event: string;
  detail?: Record<string, unknown>;
}

/** One history entry: `<at>US<event code>US<detail JSON>` (the detail left out when there is none). */
export function encodeHistoryEntry(at: Date | string, event: string, detail?: Record<string, unknown>): string {
  const head = `${timeCode(at)}${fieldSeparator}${eventCode(event)}`;
  return detail && Object.keys(detail).length ? `${head}${fieldSeparator}${JSON.stringify(detail)}` : head;
}

export function decodeHistory(stored: string | null | undefined): StoredEvent[] {
  if (!stored) return [];
  return stored.split(entrySeparator).filter(Boolean).map((entry) => {
    const [at, code, detail] = entry.split(fieldSeparator) as [string, string, string | undefined];
    return { at: timeOf(at), event: eventOf(code), ...(detail ? { detail: JSON.parse(detail) as Record<string, unknown> } : {}) };
  });
}

export interface StoredConsent {
  at: string;
  action: 'given' | 'withdrawn';
  newsletters: string[];
  form?: string;
  consentText?: string;
  /** The sign-up request (double opt-in: the form post). */
  requestedAt?: string;
  ip?: string;
  userAgent?: string;
  /** The confirmation click. */
  confirmedIp?: string;
  confirmedUserAgent?: string;
  reason?: string;
  /** Newsletters whose per-reader click records the consent text shown covered (docs/editorial.md). */
  clickRecords?: string[];
}

const recentRefs = new Map<string, string>();

/** A consent line's reference in the shared dictionary of consent texts (they repeat for every reader of a form). */
export function consentTextRef(text: string): string {
  let ref = recentRefs.get(text);
  if (ref === undefined) {
    ref = crypto.createHash('sha256').update(text).digest('base64url').slice(0, 8);
    // The few texts in use are remembered (an import asks once per row); a flood of others is not.
    if (recentRefs.size >= 64) recentRefs.clear();
    recentRefs.set(text, ref);
  }
  return ref;
}

/** A consent text as a consent entry keeps it: `#<ref>` into the dictionary, or the text itself. */
export function textField(text: string, interned: boolean): string {
  if (interned) return `#${consentTextRef(text)}`;
  const clean = cleanText(text);
  return clean.startsWith('#') || clean.startsWith('=') ? `=${clean}` : clean;
}

/**
 * One consent entry, fields by position: at, action (g/w), newsletters, form, consent text (see
 * textField), requested at, ip, user agent, confirming ip, confirming user agent, reason, the
 * newsletters whose per-reader click records the text covered; empty
 * trailing fields left out. `interned`: the consent text is a reference into the dictionary.
 */
export function encodeConsentEntry(record: StoredConsent, interned = true): string {
  const fields = [
    timeCode(record.at), record.action === 'given' ? 'g' : 'w', record.newsletters.join(','), cleanText(record.form ?? ''),
    record.consentText === undefined ? '' : textField(record.consentText, interned),
    record.requestedAt ? timeCode(record.requestedAt) : '', cleanText(record.ip ?? ''), cleanText(record.userAgent ?? ''),
    cleanText(record.confirmedIp ?? ''), cleanText(record.confirmedUserAgent ?? ''), cleanText(record.reason ?? ''),
    (record.clickRecords ?? []).join(','),
  ];
  while (fields.length > 3 && fields[fields.length - 1] === '') fields.pop();
  return fields.join(fieldSeparator);
}

/** Consent text references a consent string uses (to look them up in the dictionary). */
export function consentTextRefs(stored: string | null | undefined): string[] {
  if (!stored) return [];
  const refs = new Set<string>();
  for (const entry of stored.split(entrySeparator)) {
    const text = entry.split(fieldSeparator)[4];
    if (text?.startsWith('#')) refs.add(text.slice(1));
  }
  return [...refs];
}

export function decodeConsent(stored: string | null | undefined, texts: ReadonlyMap<string, string>): StoredConsent[] {
  if (!stored) return [];
  return stored.split(entrySeparator).filter(Boolean).map((entry) => {
    const [at, action, newsletters, form, text, requestedAt, ip, userAgent, confirmedIp, confirmedUserAgent, reason, clickRecords] = entry.split(fieldSeparator) as Array<string | undefined>;
    const consentText = !text ? undefined : text.startsWith('#') ? (texts.get(text.slice(1)) ?? `(consent text ${text} missing)`) : text.startsWith('=') ? text.slice(1) : text;
    const record: StoredConsent = { at: timeOf(at as string), action: action === 'g' ? 'given' : 'withdrawn', newsletters: newsletters ? newsletters.split(',') : [] };
    if (form) record.form = form;
    if (consentText !== undefined) record.consentText = consentText;
    if (requestedAt) record.requestedAt = timeOf(requestedAt);
    if (ip) record.ip = ip;
    if (userAgent) record.userAgent = userAgent;
    if (confirmedIp) record.confirmedIp = confirmedIp;
    if (confirmedUserAgent) record.confirmedUserAgent = confirmedUserAgent;
    if (reason) record.reason = reason;
    if (clickRecords) record.clickRecords = clickRecords.split(',');
    return record;
  });
}

/**
 * A reader created by an import has no stored history: its first entry follows from the record
 * (field `i`, the event's code) until the record changes, when Lua writes it out (entries.lua).
 */
export function implicitHistoryStart(record: { i?: string | null; t?: string | null; s?: string | null; l?: string | null; o?: string | null }): StoredEvent | undefined {
  if (!record.i || !record.t) return undefined;
  return {
    at: new Date(Number(record.t)).toISOString(),
    event: eventOf(record.i),
    detail: { status: statusOf(record.s ?? undefined), newsletters: record.l ? record.l.split(',').filter(Boolean) : [], source: record.o ?? '' },
  };
}

/** A reader as an earlier Daybreak stored it: a hash of long fields, history and consent as JSON lines. */
export interface LegacyReader {
  hash: Record<string, string>;
  history: string[];
  consent: string[];
}

/** The stored form of a legacy reader: hash fields, history and consent strings, and the consent texts they reference. */
export function fromLegacy(legacy: LegacyReader, options: { historyEntries: number; knownTexts: ReadonlyMap<string, string> }): { fields: Record<string, string>; history: string; consent: string; texts: Map<string, string> } {
  const h = legacy.hash;
  const createdAt = Number(h.createdAt);
  const fields: Record<string, string> = { e: h.email as string, s: statusCodes[(h.status as keyof typeof statusCodes) ?? 'pending'] ?? 'p', l: h.newsletters ?? '', t: String(createdAt), u: String(Number(h.updatedAt ?? createdAt) - createdAt) };
  if (h.emailHash) fields.h = h.emailHash;
  if (h.name) fields.n = h.name;
  if (h.confirmedAt) fields.f = String(Number(h.confirmedAt) - createdAt);
  if (h.source) fields.o = h.source;
  const events = legacy.history.slice(-options.historyEntries).map((line) => JSON.parse(line) as StoredEvent);
  // A first entry that the record itself says (an import or creation, nothing changed since) is left implicit, as new readers have it.
  const first = events[0];
  const code = first ? eventCodes[first.event] : undefined;
  if (first && code && events.length === legacy.history.length && isDeepStrictEqual(implicitHistoryStart({ ...fields, i: code }), first)) {
    fields.i = code;
    events.shift();
  }
  const history = events.map((e) => encodeHistoryEntry(e.at, e.event, e.detail));
  const texts = new Map<string, string>();
  const consent = legacy.consent.map((line) => {
    const record = JSON.parse(line) as StoredConsent;
    if (record.consentText === undefined) return encodeConsentEntry(record);
    const ref = consentTextRef(record.consentText);
    const known = options.knownTexts.get(ref) ?? texts.get(ref);
    // The reference names another text already (never seen, but possible): this entry keeps its text written out.
    if (known !== undefined && known !== record.consentText) return encodeConsentEntry(record, false);
    texts.set(ref, record.consentText);
    return encodeConsentEntry(record, true);
  });
  return { fields, history: history.join(entrySeparator), consent: consent.join(entrySeparator), texts };
}
