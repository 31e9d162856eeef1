/** Posting the web pages' forms as a browser would: the origin, the urlencoded body, the page's form token. */

export const origin = 'http://daybreak.test';
export const form = { 'content-type': 'application/x-www-form-urlencoded', origin };

/** A form body; a list is the same field repeated (checkboxes). */
export function encode(fields: Record<string, string | string[]>): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const one of Array.isArray(v) ? v : [v]) params.append(k, one);
  return params.toString();
}

/** The anti-forgery token a page's form carries. */
export const formToken = (html: string): string => /name="form_token" value="([^"]+)"/.exec(html)?.[1] as string;
