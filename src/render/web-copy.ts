/** The web (archive) copy of an edition: the email's HTML without its email-only parts. */

/** Marks in the morning template around what only makes sense in an inbox (see templates/morning.mjml.hbs). */
export const EMAIL_ONLY_START = '<!--daybreak:email-only-->';
export const EMAIL_ONLY_END = '<!--/daybreak:email-only-->';

/**
 * Drops every marked email-only part: the "view it in your browser" line (on the web it would
 * link to itself), "you are receiving this because ...", and the unsubscribe and preferences
 * links, which in a copy nobody subscribed to can only explain that they are not personal.
 * One pass with indexOf. A start mark with no end mark keeps the rest as it is (showing too much
 * beats cutting the edition short). HTML stored before the marks existed comes back unchanged.
 */
export function webCopyHtml(html: string): string {
  let out = '';
  let at = 0;
  for (;;) {
    const start = html.indexOf(EMAIL_ONLY_START, at);
    if (start === -1) break;
    const end = html.indexOf(EMAIL_ONLY_END, start + EMAIL_ONLY_START.length);
    if (end === -1) break;
    out += html.slice(at, start);
    at = end + EMAIL_ONLY_END.length;
  }
  return out + html.slice(at);
}
