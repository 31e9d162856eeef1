/** Per-reader slots in rendered output: the markers, filling them, and defusing text and links that hold marker-like text. */
import type Handlebars from 'handlebars';
import { OPTIONAL_SLOT_NAMES, SLOT_NAMES, type SlotName, type SlotValues } from './contract';

/**
 * Slot markers: where a per-subscriber value goes in an edition's HTML and text.
 *
 * Format: `%%slot:<name>%%`, e.g. `%%slot:unsubscribeUrl%%`. Plain ASCII with no character that
 * HTML escaping, MJML/juice, html-to-text (entity decoding, links shown as `[href]`) or a URL
 * attribute would rewrite, so the same marker survives every stage and is found again in the
 * compiled HTML, in the plain-text part and inside href="...". Names are case-sensitive and must
 * be one of SLOT_NAMES; so never put a slot inside an element whose text gets upper-cased
 * (html-to-text upper-cases h1/h2).
 */
export const SLOT_MARKER_PREFIX = '%%slot:';
export const SLOT_MARKER_SUFFIX = '%%';
const MARKER_RE = /%%slot:([A-Za-z][A-Za-z0-9]*)%%/g;

const slotNameSet: ReadonlySet<string> = new Set<string>([...SLOT_NAMES, ...OPTIONAL_SLOT_NAMES]);
const optionalSlotNames: ReadonlySet<string> = new Set<string>(OPTIONAL_SLOT_NAMES);

/** A slot's value; an optional slot left out is ''. Undefined only for a required slot with no value. */
export function slotValue(values: Partial<Record<SlotName, unknown>>, name: SlotName): string | undefined {
  const value = values[name];
  if (typeof value === 'string') return value;
  return optionalSlotNames.has(name) && value === undefined ? '' : undefined;
}

export function isSlotName(name: string): name is SlotName {
  return slotNameSet.has(name);
}

export function slotMarker(name: SlotName): string {
  if (!isSlotName(name)) throw new Error(`unknown slot "${String(name)}"; slots are ${SLOT_NAMES.join(', ')}`);
  return SLOT_MARKER_PREFIX + name + SLOT_MARKER_SUFFIX;
}

/** Registers `{{slot "name"}}` on a Handlebars environment (use an isolated `Handlebars.create()`). */
export function registerSlotHelper(hbs: typeof Handlebars): void {
  hbs.registerHelper('slot', function slotHelper(name: unknown): Handlebars.SafeString {
    if (typeof name !== 'string' || !isSlotName(name)) {
      throw new Error(`{{slot ${JSON.stringify(name)}}}: unknown slot; slots are ${SLOT_NAMES.join(', ')}`);
    }
    // The marker has no HTML-special character, so SafeString changes nothing but intent.
    return new hbs.SafeString(slotMarker(name));
  });
}

/**
 * A string cut at its slot markers, made once per edition:
 * statics[0] slots[0] statics[1] slots[1] ... statics[n]  (statics.length === slots.length + 1).
 * Plain data: JSON-serialisable.
 */
export interface SlottedString {
  statics: string[];
  slots: SlotName[];
}

/** Cuts a string at its slot markers. Throws on a marker-shaped token with an unknown name. */
export function splitSlots(input: string): SlottedString {
  const statics: string[] = [];
  const slots: SlotName[] = [];
  let last = 0;
  for (const match of input.matchAll(MARKER_RE)) {
    const name = match[1];
    if (!isSlotName(name)) throw new Error(`unknown slot marker "${match[0]}" in rendered output`);
    const at = match.index ?? 0;
    statics.push(input.slice(last, at));
    slots.push(name);
    last = at + match[0].length;
  }
  statics.push(input.slice(last));
  return { statics, slots };
}

/** How many times each slot occurs (every required slot is listed, an optional one only when present). */
export function countSlots(compiled: SlottedString): Record<SlotName, number> {
  const counts = Object.fromEntries(SLOT_NAMES.map((n) => [n, 0])) as Record<SlotName, number>;
  for (const s of compiled.slots) counts[s] = (counts[s] ?? 0) + 1;
  return counts;
}

const identity = (value: string): string => value;

/**
 * Fills the slots of a split string, for places that want one plain string (the archive view
 * with neutral values, an outbox .html). `escape` is applied to each value: `escapeHtml` for
 * HTML, the default (none) for text. Sending does not use this: see mime-template.ts.
 */
export function fillSlots(compiled: SlottedString | string, values: SlotValues, escape: (value: string) => string = identity): string {
  const split = typeof compiled === 'string' ? splitSlots(compiled) : compiled;
  let out = split.statics[0];
  for (let i = 0; i < split.slots.length; i++) {
    const value = slotValue(values, split.slots[i]);
    if (value === undefined) throw new Error(`no value for slot "${split.slots[i]}"`);
    out += escape(value) + split.statics[i + 1];
  }
  return out;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and double- or single-quoted attributes. */
export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/**
 * Neutral values for copies nobody subscribed to (the public archive, previews):
 * "You are receiving this because you subscribed ...".
 */
export function neutralSlotValues(links: { unsubscribeUrl: string; preferencesUrl: string }): SlotValues {
  return { greeting: greetingFor(undefined), email: 'you', unsubscribeUrl: links.unsubscribeUrl, preferencesUrl: links.preferencesUrl };
}

/**
 * Makes untrusted text (feed titles, summaries, names) unable to forge a slot marker: a feed
 * item containing "%%slot:email%%" must not print each reader's address. Inserts U+200B (zero
 * width space) between two '%' — invisible when read, and it survives entity decoding in
 * html-to-text, which an HTML entity would not.
 */
export function defuseText(value: string): string {
  return value.includes('%%') ? value.replace(/%(?=%)/g, '%\u200B') : value;
}

/** The same for URLs: a '%' not starting a %XX escape is invalid in a URL anyway; make it %25. */
export function defuseUrl(value: string): string {
  return value.includes('%') ? value.replace(/%(?![0-9A-Fa-f]{2})/g, '%25') : value;
}

/** "Good morning, Jane." from "Jane Smith"; plain "Good morning." with no name. */
export function greetingFor(name: string | undefined): string {
  const first = name?.trim().split(/\s+/)[0];
  return first ? `Good morning, ${first}.` : 'Good morning.';
}
