/** The order an edition's stories appear in the email: the lead, then by section in order of first story. */

/** Section heading for stories the feed gave no section. */
export const UNSECTIONED = 'More news';

/**
 * Pure: the template groups stories by section after the lead, so every list an editor sees
 * (preview, status, run-edition) uses this order too, and "story 3" means the same thing everywhere.
 */
export function readingOrder<T extends { section?: string }>(articles: readonly T[]): T[] {
  const [lead, ...rest] = articles;
  if (!lead) return [];
  const sections = new Map<string, T[]>();
  for (const article of rest) {
    const name = article.section?.trim() || UNSECTIONED;
    const list = sections.get(name);
    if (list) list.push(article);
    else sections.set(name, [article]);
  }
  return [lead, ...[...sections.values()].flat()];
}
