/** Finds email addresses in untrusted text in one linear pass (no backtracking regex over the text). */

/** RFC 5321 limits: a local part is at most 64 octets, a domain at most 255. */
const localMax = 64;
const domainMax = 255;

/** atext (RFC 5322) plus the dot, for local parts. */
const localChars = new Uint8Array(128);
/** Letters, digits, hyphen and dot, for domains. */
const domainChars = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  const alnum = /[A-Za-z0-9]/.test(ch);
  if (alnum || "!#$%&'*+/=?^_`{|}~-.".includes(ch)) localChars[c] = 1;
  if (alnum || ch === '-' || ch === '.') domainChars[c] = 1;
}

const isLocal = (c: number) => c < 128 && localChars[c] === 1;
const isDomain = (c: number) => c < 128 && domainChars[c] === 1;
const isAlnum = (c: number) => (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);

export interface FoundAddress {
  /** Lower-cased, without the junk some reports attach (`smtp=`, quotes, a trailing dot). */
  address: string;
  /** Where the address (as written, before clean-up) starts and ends in the text. */
  index: number;
  end: number;
}

/**
 * Words some MTAs glue to the front of an address (`smtp=user@x`, `rfc822=user@x`, `to=user@x`).
 * `=` is legal in a local part (SRS, BATV), so only these known words are taken off.
 */
const gluedPrefix = /^(?:smtp|esmtp|rfc822|to|rcpt|rcpt-to|recipient|address|user|mailto|original-recipient|final-recipient)[=:]/i;

/** The domain that starts at `start`: whole labels only, at least two, or '' if there is none. */
function domainAt(text: string, start: number, limit: number): { domain: string; end: number } {
  let end = start;
  while (end < limit && end - start <= domainMax && isDomain(text.charCodeAt(end))) end++;
  if (end - start > domainMax) return { domain: '', end };
  const labels: string[] = [];
  let labelStart = start;
  for (let i = start; i <= end; i++) {
    if (i < end && text.charCodeAt(i) !== 46) continue;
    const label = text.slice(labelStart, i);
    // A label is 1-63 letters, digits and inner hyphens; the first bad one ends the domain.
    if (!label.length || label.length > 63 || !isAlnum(label.charCodeAt(0)) || !isAlnum(label.charCodeAt(label.length - 1))) break;
    labels.push(label);
    labelStart = i + 1;
  }
  if (labels.length < 2) return { domain: '', end };
  const domain = labels.join('.');
  return { domain, end: start + domain.length };
}

/**
 * Every address in `text` (at most `max`), left to right, not overlapping. Each `@` costs at most
 * 64 characters to its left and 255 to its right, so the whole scan is linear in the text.
 */
export function findAddresses(text: string, max = Infinity): FoundAddress[] {
  const found: FoundAddress[] = [];
  let floor = 0;
  for (let at = text.indexOf('@'); at >= 0 && found.length < max; at = text.indexOf('@', at + 1)) {
    let start = at;
    let quoted = false;
    if (text.charCodeAt(at - 1) === 34) {
      // A quoted local part ("john..doe"@example.com): back to its opening quote, on the same line.
      let open = at - 2;
      while (open >= floor && at - open <= localMax + 2 && !'"\n\r<>@'.includes(text.charAt(open))) open--;
      quoted = open >= floor && open < at - 2 && text.charCodeAt(open) === 34;
      if (quoted) start = open;
    }
    if (!quoted) {
      while (start > floor && at - start <= localMax && isLocal(text.charCodeAt(start - 1))) start--;
      // A run of letters longer than any local part is not an address (a filler, or an attack).
      if (at - start > localMax) continue;
    }
    const { domain, end } = domainAt(text, at + 1, text.length);
    if (!domain) continue;
    let local = text.slice(start, at);
    if (!quoted) local = local.replace(gluedPrefix, '').replace(/^['".]+/, '').replace(/['"]+$/, '');
    if (!local) continue;
    found.push({ address: `${local}@${domain}`.toLowerCase(), index: start, end });
    floor = end;
    at = end - 1;
  }
  return found;
}

/** The first address in `text`, or ''. */
export function firstAddress(text: string): string {
  return findAddresses(text, 1)[0]?.address ?? '';
}

/**
 * The address in a field value: inside the first `<...>` that holds an `@` (a display name and
 * comments often name other addresses), else the first one anywhere. One pass over the value.
 */
export function addressInValue(value: string): string {
  let open = value.indexOf('<');
  while (open >= 0) {
    let close = open + 1;
    while (close < value.length && value[close] !== '>' && value[close] !== '<') close++;
    if (close < value.length && value[close] === '>') {
      const inner = value.slice(open + 1, close);
      if (inner.includes('@')) {
        const a = firstAddress(inner);
        if (a) return a;
      }
      open = value.indexOf('<', close + 1);
    } else {
      open = close < value.length ? close : -1;
    }
  }
  return firstAddress(value);
}
