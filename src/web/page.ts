/** The HTML frame of every reader-facing page. */
import { escapeHtml } from '../render/slots';

export interface PageOptions {
  /** Shown in the footer (who is writing to the reader). */
  postalAddress?: string;
  /** Text before the title in the browser tab, e.g. "Error: " when the form came back with errors. */
  titlePrefix?: string;
  /** More CSS for one kind of page (the ops pages' tables); trusted, never from a visitor. */
  extraStyle?: string;
}

/**
 * A plain, accessible page shell shared by the subscriber-facing pages: no scripts (a form that
 * asks for a time zone brings one inline line, allowed by its nonce), system fonts,
 * contrast at WCAG AA or better, a visible focus ring, and a layout that works from 320 px up.
 * `bodyHtml` must already be escaped; the title and organisation are escaped here.
 */
export function page(title: string, bodyHtml: string, organisation: string, options: PageOptions = {}): string {
  return `<!doctype html>
<html lang="en-GB">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>${escapeHtml(options.titlePrefix ?? '')}${escapeHtml(title)} · ${escapeHtml(organisation)}</title>
<style>
  *, *::before, *::after { box-sizing: border-box; }
  html { -webkit-text-size-adjust: 100%; }
  body { font: 17px/1.55 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; color: #1f2328; background: #f1f0ec; margin: 0; }
  .skip { position: absolute; left: -10000px; }
  .skip:focus { left: 1rem; top: 1rem; background: #fff; padding: .5rem .8rem; z-index: 2; }
  header.masthead { background: #0b2a4a; color: #fff; }
  header.masthead p { max-width: 38rem; margin: 0 auto; padding: .85rem 1.25rem; font-size: .8rem; font-weight: 700; letter-spacing: .14em; text-transform: uppercase; }
  main { max-width: 38rem; margin: 0 auto; background: #fff; padding: 1.75rem 1.25rem 2rem; }
  @media (min-width: 40rem) { main { margin: 2.5rem auto; padding: 2.5rem 2.75rem; border-radius: 4px; box-shadow: 0 1px 3px rgba(11, 42, 74, .12); } }
  h1 { font: normal 2rem/1.2 Georgia, "Times New Roman", serif; color: #0b2a4a; margin: 0 0 .75rem; }
  h2 { font-size: 1.1rem; color: #0b2a4a; margin: 1.75rem 0 .5rem; }
  p { margin: 0 0 1rem; }
  .lead { font-size: 1.1rem; color: #3b4148; }
  a { color: #0b4f8a; text-underline-offset: .15em; }
  a:hover { color: #0b2a4a; }
  :focus-visible { outline: 3px solid #c77d00; outline-offset: 2px; }
  .field { margin: 0 0 1.35rem; }
  label, legend { display: block; font-weight: 700; margin: 0 0 .3rem; }
  .hint { display: block; color: #55595e; font-size: .92rem; font-weight: 400; margin: 0 0 .4rem; }
  input[type=email], input[type=text] { display: block; width: 100%; font: inherit; font-size: 1.05rem; padding: .65rem .75rem; border: 2px solid #55595e; border-radius: 3px; background: #fff; color: #1f2328; }
  input[type=email]:focus, input[type=text]:focus { border-color: #0b2a4a; outline: 3px solid #c77d00; outline-offset: 0; }
  select { display: block; width: 100%; font: inherit; font-size: 1.05rem; padding: .6rem .7rem; border: 2px solid #55595e; border-radius: 3px; background: #fff; color: #1f2328; }
  select:focus { border-color: #0b2a4a; outline: 3px solid #c77d00; outline-offset: 0; }
  .invalid select { border-color: #b3261e; }
  fieldset { border: 0; padding: 0; margin: 0 0 1.35rem; min-width: 0; }
  legend { padding: 0; }
  .choices { display: grid; gap: .5rem; margin-top: .35rem; }
  .choice { display: grid; grid-template-columns: 1.5rem 1fr; gap: .7rem; align-items: start; padding: .7rem .8rem; border: 1px solid #d8d6cf; border-radius: 4px; cursor: pointer; font-weight: 400; margin: 0; }
  .choice:hover { border-color: #0b4f8a; }
  .choice input { width: 1.35rem; height: 1.35rem; margin: .1rem 0 0; accent-color: #0b2a4a; cursor: pointer; }
  .choice strong { display: block; color: #0b2a4a; }
  .choice span span { display: block; color: #55595e; font-size: .92rem; line-height: 1.4; }
  @media (min-width: 40rem) { .choices.two { grid-template-columns: 1fr 1fr; } .choices.two .wide { grid-column: 1 / -1; } header.masthead p, footer { padding-left: 2.75rem; padding-right: 2.75rem; } }
  .consent { font-size: .92rem; color: #3b4148; }
  button, .button { display: inline-block; font: inherit; font-weight: 700; font-size: 1.05rem; background: #0b2a4a; color: #fff; border: 2px solid #0b2a4a; padding: .75rem 1.5rem; border-radius: 3px; cursor: pointer; text-decoration: none; text-align: center; }
  button:hover, .button:hover { background: #163f69; color: #fff; }
  button.secondary { background: #fff; color: #0b2a4a; }
  button.secondary:hover { background: #e8eef5; color: #0b2a4a; }
  @media (max-width: 39.99rem) { button.wide { width: 100%; } }
  .actions { display: flex; flex-wrap: wrap; gap: .75rem; align-items: center; margin-top: .5rem; }
  .error-summary { border: 3px solid #b3261e; padding: 1rem 1.1rem; margin: 0 0 1.5rem; }
  .error-summary h2 { color: #b3261e; margin: 0 0 .4rem; font-size: 1.1rem; }
  .error-summary ul { margin: 0; padding-left: 1.2rem; }
  .error-summary a { color: #b3261e; font-weight: 700; }
  .field-error { color: #b3261e; font-weight: 700; margin: 0 0 .35rem; }
  .invalid input[type=email], .invalid input[type=text] { border-color: #b3261e; }
  .invalid .choice { border-color: #b3261e; }
  .notice { background: #e8f3ec; border-left: 5px solid #1e6b3a; padding: .8rem 1rem; margin: 0 0 1.5rem; }
  .muted { color: #55595e; font-size: .92rem; }
  .email { font-weight: 700; overflow-wrap: anywhere; }
  .hp { position: absolute; left: -10000px; top: auto; width: 1px; height: 1px; overflow: hidden; }
  footer { max-width: 38rem; margin: 0 auto; padding: 1rem 1.25rem 2.5rem; color: #55595e; font-size: .85rem; }
${options.extraStyle ?? ''}</style>
</head>
<body>
<a class="skip" href="#content">Skip to content</a>
<header class="masthead"><p>${escapeHtml(organisation)}</p></header>
<main id="content">
<h1>${escapeHtml(title)}</h1>
${bodyHtml}
</main>
${options.postalAddress ? `<footer><p>${escapeHtml(options.postalAddress)}</p></footer>\n` : ''}</body>
</html>
`;
}
