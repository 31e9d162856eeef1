import { escapeHtml } from '../render/slots';

/** A plain, accessible page shell shared by the subscriber-facing pages. */
export function page(title: string, bodyHtml: string, organisation: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)} · ${escapeHtml(organisation)}</title>
<style>
  body { font: 17px/1.55 -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1b1b1b; background: #f4f2ee; margin: 0; }
  main { max-width: 34rem; margin: 3rem auto; background: #fff; padding: 2rem 1.5rem; border-top: 6px solid #0b3d5c; }
  h1 { font-size: 1.6rem; margin-top: 0; color: #0b3d5c; }
  button { font: inherit; background: #0b3d5c; color: #fff; border: 0; padding: .7rem 1.3rem; cursor: pointer; border-radius: 3px; }
  button:focus-visible, a:focus-visible { outline: 3px solid #e09f1f; outline-offset: 2px; }
  a { color: #0b3d5c; }
</style>
</head>
<body><main>
<h1>${escapeHtml(title)}</h1>
${bodyHtml}
</main></body>
</html>
`;
}
