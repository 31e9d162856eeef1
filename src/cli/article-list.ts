/** The numbered headline list every command prints, in the order the email shows them. */
import { readingOrder } from '../render/reading-order';

/** `   1. Title [Section]`, lead first, then by section as the email groups them. */
export function articleList(articles: ReadonlyArray<{ title: string; section?: string }>): string[] {
  return readingOrder(articles).map((a, i) => `  ${String(i + 1).padStart(2)}. ${a.title}${a.section ? ` [${a.section}]` : ''}`);
}
