/** What rendering takes and gives: the edition content, the rendered edition and the per-reader slot values. */
import type { Article } from '../articles/article';

/**
 * Per-subscriber values. Rendering leaves a marker for each in the edition's HTML and text
 * (see slots.ts); personalisation swaps markers for values, once per message, on pre-built output.
 */
export const SLOT_NAMES = ['greeting', 'email', 'unsubscribeUrl', 'preferencesUrl'] as const;
/**
 * Slots an edition carries only when its newsletter asks: `readerRef` (`?u=<signed reader>`) ends
 * each story link in a newsletter that keeps per-reader click records (an opt-in, off by default).
 * A value left out fills as ''.
 */
export const OPTIONAL_SLOT_NAMES = ['readerRef'] as const;
export type RequiredSlotName = (typeof SLOT_NAMES)[number];
export type OptionalSlotName = (typeof OPTIONAL_SLOT_NAMES)[number];
export type SlotName = RequiredSlotName | OptionalSlotName;
export type SlotValues = Record<RequiredSlotName, string> & Partial<Record<OptionalSlotName, string>>;

/** Everything the morning template needs; identical for every reader of an edition. */
export interface EditionContent {
  editionId: string;
  newsletter: { id: string; name: string; description: string };
  organisation: { name: string; postalAddress: string; website: string };
  /** e.g. "Tuesday 24 November 2026", in the newsletter's time zone. */
  dateLabel: string;
  /** YYYY-MM-DD in the newsletter's time zone. */
  localDate: string;
  /** In edition order: the first is the lead story. */
  articles: Article[];
  /** Subject template from config (Handlebars: {{name}}, {{date}}, {{lead}}). */
  subjectTemplate: string;
  links: {
    viewInBrowser: string;
    signup: string;
    archive: string;
  };
  /**
   * Where each story links, by article id: the signed click redirect (docs/editorial.md). An
   * article not listed links straight to its own URL (a newsletter with click redirects off).
   */
  storyLinks?: Record<string, string>;
  /** End each redirect link with the `readerRef` slot (a newsletter's per-reader click opt-in). */
  readerLinks?: boolean;
}

export interface RenderedEdition {
  subject: string;
  /** Compiled HTML with slot markers still in it. */
  html: string;
  /** Plain-text alternative with slot markers still in it. */
  text: string;
  /** e.g. the Gmail 102 KB clipping warning. */
  warnings: string[];
  timings: { mjmlMs: number; textMs: number };
}

/** Headers that are the same for every copy of an edition. */
export interface EditionHeaders {
  from: string;
  replyTo?: string;
  subject: string;
  /** RFC 2919 List-Id value, e.g. `National <national.daybreak.example>` */
  listId: string;
  /** Optional mailto: for List-Unsubscribe; only set when something reads that mailbox. */
  unsubscribeMailto?: string;
  /** List a per-reader mailto (MessageValues.unsubscribeMailto) after the https link. */
  unsubscribeMailtoPerReader?: boolean;
  /** Domain part for Message-IDs. */
  messageIdDomain: string;
}

/** What changes per message besides the slots. */
export interface MessageValues extends SlotValues {
  to: { email: string; name?: string };
  messageId: string;
  date: Date;
  /** `mailto:` that unsubscribes this reader; needed when EditionHeaders.unsubscribeMailtoPerReader. */
  unsubscribeMailto?: string;
}
