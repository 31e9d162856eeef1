/** The numbered headline list every command prints: `   1. Title [Section]`. */
export function articleList(articles: ReadonlyArray<{ title: string; section?: string }>): string[] {
  return articles.map((a, i) => `  ${String(i + 1).padStart(2)}. ${a.title}${a.section ? ` [${a.section}]` : ''}`);
}
