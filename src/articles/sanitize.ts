/** Feed summaries made safe for an email: an allow-list of tags and attributes, links absolute, nothing active. */
import sanitizeHtml from 'sanitize-html';

/**
 * Feed HTML is written by strangers and ends up in thousands of inboxes, so it is reduced to a
 * small allow-list of text formatting. Images are dropped because the template shows its own
 * image; anything that can run code, submit data, load remote resources or restyle the
 * message (script, on* handlers, iframe, form, style, link, style="") never survives.
 */
const ALLOWED_TAGS = ['p', 'br', 'b', 'strong', 'i', 'em', 'a', 'ul', 'ol', 'li', 'blockquote'];
const LINK_PROTOCOLS = new Set(['http:', 'https:', 'mailto:']);

/** Tags whose whole content goes too, not just the tag: their text is code, chrome or fallback. */
const DROP_WITH_CONTENT = [
  'script', 'style', 'textarea', 'option', 'noscript', 'iframe', 'frame', 'frameset', 'form',
  'select', 'button', 'title', 'head', 'template', 'object', 'embed', 'applet', 'svg', 'math',
];

/** Elements left with no text (e.g. a link that only wrapped an image) are noise in an email. */
const DROP_WHEN_EMPTY = new Set(['a', 'p', 'li', 'ul', 'ol', 'blockquote', 'b', 'strong', 'i', 'em']);

/** Not an allowed tag, so sanitize-html unwraps it: the link text stays, the link goes. */
const UNWRAP = 'daybreak-unwrap';

export interface SanitizeOptions {
  /** Relative links are resolved against this (usually the article URL); without it they are unwrapped. */
  baseUrl?: string;
}

/** A safe absolute link target, or undefined. Parsing with URL also defeats `java\tscript:` tricks. */
export function safeLinkHref(href: string | undefined, baseUrl?: string): string | undefined {
  if (!href) return undefined;
  const trimmed = href.trim();
  if (!trimmed || trimmed.startsWith('//')) return undefined; // protocol-relative: scheme would depend on the mail client
  let url: URL;
  try {
    url = baseUrl ? new URL(trimmed, baseUrl) : new URL(trimmed);
  } catch {
    return undefined;
  }
  return LINK_PROTOCOLS.has(url.protocol) ? url.href : undefined;
}

/** Sanitised HTML for an article summary: safe to insert unescaped into the email template. */
export function sanitizeSummaryHtml(html: string, options: SanitizeOptions = {}): string {
  if (!html) return '';
  const cleaned = sanitizeHtml(html, {
    allowedTags: ALLOWED_TAGS,
    allowedAttributes: { a: ['href'] },
    // Second line of defence: transformTags below already rejects other schemes.
    allowedSchemes: ['http', 'https', 'mailto'],
    allowedSchemesAppliedToAttributes: ['href'],
    allowProtocolRelative: false,
    allowedStyles: {},
    disallowedTagsMode: 'discard',
    nonTextTags: DROP_WITH_CONTENT,
    transformTags: {
      a: (_tag, attribs) => {
        const href = safeLinkHref(attribs.href, options.baseUrl);
        const kept: sanitizeHtml.Attributes = href ? { href } : {};
        return { tagName: href ? 'a' : UNWRAP, attribs: kept };
      },
    },
    exclusiveFilter: (frame) => DROP_WHEN_EMPTY.has(frame.tag) && !frame.text.trim(),
  });
  return cleaned.trim();
}

/** Undo the minimal escaping sanitize-html applies to text (it decodes every entity on input). */
function unescapeText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&amp;/g, '&');
}

/**
 * Plain text from HTML (or from text that may hold entities and stray tags, like many feed
 * titles): tags removed, entities decoded, whitespace collapsed to single spaces.
 */
export function htmlToPlainText(html: string): string {
  if (!html) return '';
  // Block boundaries become spaces so "<p>a</p><p>b</p>" reads "a b", not "ab".
  const spaced = html.replace(/<br\s*\/?>|<\/(?:p|div|li|h[1-6]|blockquote|tr|td|th)\s*>/gi, ' $&');
  const stripped = sanitizeHtml(spaced, { allowedTags: [], allowedAttributes: {}, nonTextTags: DROP_WITH_CONTENT });
  return unescapeText(stripped).replace(/[\s\u00a0]+/g, ' ').trim();
}

/**
 * A short plain-text version of a summary (for the text/plain part, previews, or meta
 * descriptions), cut at a word boundary with an ellipsis when longer than maxChars.
 */
export function summaryText(html: string, maxChars = 280): string {
  const text = htmlToPlainText(html);
  if (text.length <= maxChars) return text;
  const cut = text.slice(0, Math.max(1, maxChars - 1));
  const lastSpace = cut.lastIndexOf(' ');
  // Only back off to a word boundary when it does not throw away most of the text.
  const base = lastSpace > maxChars * 0.6 ? cut.slice(0, lastSpace) : cut;
  return `${base.replace(/[\s,;:.\-–—]+$/, '')}…`;
}
