/** Where an edition's story links go: through the signed click redirect, or (previews, tests) straight to the article. */
import type { NewsletterConfig } from '../config/schema';
import { EditionLinkSigner } from '../mail/edition-links';
import type { RenderedEdition } from '../render/contract';
import { defuseUrl, escapeHtml, slotMarker } from '../render/slots';

/**
 * The click redirect of each story, by article id, computed once per edition (every copy carries
 * the same links: nothing in them names the reader). Undefined when the newsletter turned click
 * redirects off: its links go straight to the articles and nothing is counted.
 */
export function storyLinksFor(input: { secret: string; publicUrl: string; newsletter: Pick<NewsletterConfig, 'clicks'>; editionId: string; articles: ReadonlyArray<{ id: string }> }): Record<string, string> | undefined {
  if (!input.newsletter.clicks.redirect) return undefined;
  const signer = new EditionLinkSigner(input.secret);
  return Object.fromEntries(input.articles.map((a) => [a.id, signer.clickUrl(input.publicUrl, input.editionId, a.id)]));
}

/**
 * The same rendered edition with every story redirect (and its reader slot) replaced by the
 * article's own URL: for copies that must count nothing, such as an editor's preview or a test
 * copy. The redirect URLs hold no character HTML escaping changes, so one replacement per link
 * and part is exact.
 */
export function withDirectStoryLinks(rendered: RenderedEdition, input: { secret: string; publicUrl: string; editionId: string; articles: ReadonlyArray<{ id: string; url: string }> }): RenderedEdition {
  const signer = new EditionLinkSigner(input.secret);
  const marker = slotMarker('readerRef');
  let { html, text } = rendered;
  for (const article of input.articles) {
    const redirect = signer.clickUrl(input.publicUrl, input.editionId, article.id);
    const direct = defuseUrl(article.url);
    for (const from of [redirect + marker, redirect]) {
      html = html.split(from).join(escapeHtml(direct));
      text = text.split(from).join(direct);
    }
  }
  return { ...rendered, html, text };
}
