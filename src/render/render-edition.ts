/** Renders an edition once: Handlebars to MJML to HTML, HTML to text, with the per-reader slots left in. */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import Handlebars from 'handlebars';
import mjml2html from 'mjml';
import { convert, type HtmlToTextOptions } from 'html-to-text';
import type { Article } from '../articles/article';
import type { EditionContent, RenderedEdition } from './contract';
import { SLOT_NAMES } from './contract';
import { gmailClipWarning } from './gmail';
import { imageFormatOf, isEmailSafeImage } from '../articles/email-image';
import { countSlots, defuseText, defuseUrl, registerSlotHelper, slotMarker, splitSlots } from './slots';

/**
 * Renders an edition ONCE: Handlebars (template compiled once per process) -> MJML (compiled once
 * per edition) -> HTML, and HTML -> plain text once. The output keeps slot markers for the
 * per-reader values (see slots.ts); mime-template.ts turns it into a MIME template.
 */

export const MORNING_TEMPLATE_FILE = 'morning.mjml.hbs';
const UNSECTIONED = 'More news';
/** Rough extra bytes per slot occurrence once real values replace markers (long tokenised URLs). */
const SLOT_ALLOWANCE_BYTES = 160;

const hbs = Handlebars.create();
registerSlotHelper(hbs);

let morningTemplate: Handlebars.TemplateDelegate<TemplateView> | undefined;
const subjectTemplates = new Map<string, Handlebars.TemplateDelegate<SubjectView>>();

/** Finds templates/: $DAYBREAK_TEMPLATES_DIR, else the nearest templates/ above this file (src/ or dist/src/). */
export function templatesDir(): string {
  const fromEnv = process.env.DAYBREAK_TEMPLATES_DIR;
  if (fromEnv) return path.resolve(fromEnv);
  let dir = __dirname;
  for (let i = 0; i < 6; i++) {
    const candidate = path.join(dir, 'templates');
    if (fs.existsSync(path.join(candidate, MORNING_TEMPLATE_FILE))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`cannot find templates/${MORNING_TEMPLATE_FILE} above ${__dirname}; set DAYBREAK_TEMPLATES_DIR`);
}

function getMorningTemplate(): Handlebars.TemplateDelegate<TemplateView> {
  if (!morningTemplate) {
    const source = fs.readFileSync(path.join(templatesDir(), MORNING_TEMPLATE_FILE), 'utf8');
    morningTemplate = hbs.compile<TemplateView>(source, { strict: true });
  }
  return morningTemplate;
}

/** Drops the cached compiled templates (tests, or after editing a template in a long-lived process). */
export function clearTemplateCache(): void {
  morningTemplate = undefined;
  subjectTemplates.clear();
}

interface StoryView {
  title: string;
  url: string;
  summaryHtml: string;
  author: string;
  section: string;
  imageUrl: string;
  imageAlt: string;
}

interface TemplateView {
  newsletter: { name: string; description: string };
  organisation: { name: string; postalAddress: string; website: string };
  dateLabel: string;
  preview: string;
  links: { viewInBrowser: string; signup: string; archive: string };
  lead: StoryView | null;
  sections: Array<{ name: string; stories: StoryView[] }>;
}

interface SubjectView {
  name: string;
  date: string;
  lead: string;
}

function isWebUrl(url: string): boolean {
  return /^https?:\/\/[^\s"'<>]+$/i.test(url);
}

/** Only http(s) links reach the template; anything else (javascript:, data:) falls back, with a warning. */
function safeUrl(url: string | undefined, fallback: string, what: string, warnings: string[]): string {
  if (url && isWebUrl(url)) return defuseUrl(url);
  if (url) warnings.push(`${what}: refused link ${JSON.stringify(url.slice(0, 80))} (not http/https)`);
  return fallback;
}

/** How a story links: straight to the article, or through the edition's click redirect (with the reader slot when asked). */
interface StoryLinking {
  links?: Record<string, string>;
  readerLinks?: boolean;
}

function storyUrl(article: Article, fallbackUrl: string, warnings: string[], linking: StoryLinking): string {
  const direct = safeUrl(article.url, fallbackUrl, `article ${article.id}`, warnings);
  const redirect = linking.links?.[article.id];
  // An article whose own URL was refused keeps the fallback: the redirect would only lead there too.
  if (!redirect || direct !== defuseUrl(article.url) || !isWebUrl(redirect)) return direct;
  return defuseUrl(redirect) + (linking.readerLinks ? slotMarker('readerRef') : '');
}

function storyView(article: Article, fallbackUrl: string, warnings: string[], linking: StoryLinking = {}): StoryView {
  const title = defuseText(article.title.trim());
  const imageUrl = article.imageUrl && isWebUrl(article.imageUrl) && isEmailSafeImage(article.imageUrl) ? defuseUrl(article.imageUrl) : '';
  return {
    title,
    url: storyUrl(article, fallbackUrl, warnings, linking),
    summaryHtml: defuseText(article.summaryHtml),
    author: defuseText(article.author?.trim() ?? ''),
    section: defuseText(article.section?.trim() ?? ''),
    imageUrl,
    imageAlt: title,
  };
}

function buildView(content: EditionContent, warnings: string[]): TemplateView {
  const website = isWebUrl(content.organisation.website) ? defuseUrl(content.organisation.website) : '#';
  const link = (url: string, what: string): string => safeUrl(url, website, what, warnings);
  const [leadArticle, ...rest] = content.articles;
  const linking: StoryLinking = { links: content.storyLinks, readerLinks: content.readerLinks };
  const lead = leadArticle ? storyView(leadArticle, website, warnings, linking) : null;
  if (leadArticle?.imageUrl && isWebUrl(leadArticle.imageUrl) && !lead?.imageUrl) {
    warnings.push(`lead story image left out: ${imageFormatOf(leadArticle.imageUrl)?.toUpperCase() ?? 'its format'} is not shown by every email client (${leadArticle.imageUrl.slice(0, 80)})`);
  }

  // Group the rest by section, sections in order of their first story, stories in edition order.
  const sections = new Map<string, StoryView[]>();
  for (const article of rest) {
    const story = storyView(article, website, warnings, linking);
    const name = story.section || UNSECTIONED;
    const list = sections.get(name);
    if (list) list.push(story);
    else sections.set(name, [story]);
  }

  const more = rest.length;
  const preview = lead
    ? `${lead.title}${more > 0 ? ` \u2014 plus ${more} more ${more === 1 ? 'story' : 'stories'}` : ''}`
    : content.newsletter.description;

  return {
    newsletter: { name: defuseText(content.newsletter.name), description: defuseText(content.newsletter.description) },
    organisation: {
      name: defuseText(content.organisation.name),
      postalAddress: defuseText(content.organisation.postalAddress),
      website,
    },
    dateLabel: defuseText(content.dateLabel),
    preview,
    links: {
      viewInBrowser: link(content.links.viewInBrowser, 'links.viewInBrowser'),
      signup: link(content.links.signup, 'links.signup'),
      archive: link(content.links.archive, 'links.archive'),
    },
    lead,
    sections: [...sections].map(([name, stories]) => ({ name, stories })),
  };
}

const textOptions: HtmlToTextOptions = {
  wordwrap: 76,
  selectors: [
    { selector: 'img', format: 'skip' },
    // mj-preview's hidden preheader: already the first thing a reader sees, not body text.
    { selector: 'div[style*="display:none"]', format: 'skip' },
    { selector: 'a', options: { hideLinkHrefIfSameAsText: true } },
    // Masthead and section names upper-cased (the default); story headlines stay as written.
    { selector: 'h3', options: { uppercase: false } },
  ],
};

/** HTML -> readable plain text: links shown as `text [url]`, images dropped, CRLF-free, ends with "\n". */
export function htmlToText(html: string): string {
  const text = convert(html, textOptions)
    .replace(/[ \t]+$/gm, '')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
  return `${text}\n`;
}

/**
 * Drops MJML's indentation and blank lines (about a quarter of its output): whitespace next to a
 * line break is collapsible in HTML, so what renders is unchanged, and the message is smaller.
 * Left alone when a <pre> or <textarea> (whitespace that matters) is present.
 */
export function tidyHtml(html: string): string {
  if (/<(pre|textarea)\b/i.test(html)) return html;
  return html.replace(/^[ \t]+|[ \t]+$/gm, '').replace(/\n{2,}/g, '\n');
}

/** Subject from the newsletter's Handlebars subject template: no HTML escaping, one line. */
export function renderSubject(subjectTemplate: string, view: SubjectView): string {
  let template = subjectTemplates.get(subjectTemplate);
  if (!template) {
    template = hbs.compile<SubjectView>(subjectTemplate, { noEscape: true, strict: true });
    subjectTemplates.set(subjectTemplate, template);
  }
  return template(view).replace(/[\r\n\t]+/g, ' ').replace(/\s{2,}/g, ' ').trim();
}

export async function renderEdition(content: EditionContent): Promise<RenderedEdition> {
  const warnings: string[] = [];
  if (content.articles.length === 0) warnings.push('edition has no articles');

  const view = buildView(content, warnings);
  const source = getMorningTemplate()(view);

  const t0 = performance.now();
  const result = await mjml2html(source, { validationLevel: 'soft', keepComments: false, fonts: {} });
  const mjmlMs = performance.now() - t0;
  for (const e of result.errors) warnings.push(`MJML: ${e.formattedMessage}`);
  const html = tidyHtml(result.html);

  const t1 = performance.now();
  const text = htmlToText(html);
  const textMs = performance.now() - t1;

  // Both parts must carry the same slots; a slot lost on the way (e.g. a link html-to-text
  // dropped) would silently drop an unsubscribe link from every copy.
  const htmlSlots = splitSlots(html);
  const htmlCounts = countSlots(htmlSlots);
  const textCounts = countSlots(splitSlots(text));
  for (const name of SLOT_NAMES) {
    if (htmlCounts[name] === 0) warnings.push(`slot "${name}" is missing from the HTML`);
    if (textCounts[name] === 0) warnings.push(`slot "${name}" is missing from the text part`);
  }

  const clip = gmailClipWarning(html, htmlSlots.slots.length * SLOT_ALLOWANCE_BYTES);
  if (clip) warnings.push(clip);

  const subject = renderSubject(content.subjectTemplate, {
    name: content.newsletter.name,
    date: content.dateLabel,
    lead: content.articles[0]?.title ?? '',
  });
  if (!subject) warnings.push('subject is empty');

  return { subject, html, text, warnings, timings: { mjmlMs, textMs } };
}
