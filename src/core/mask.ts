/**
 * Subscriber addresses in logs: `j***@example.com`. Enough for ops to tell domains and
 * recurring readers apart, not enough to harvest a list from a log shipper.
 */
import { isDaybreakError } from './errors';

/** `jane@example.com` -> `j***@example.com`; anything that is not an address -> `***`. */
export function maskEmail(address: string): string {
  const at = address.lastIndexOf('@');
  if (at < 1) return '***';
  return `${address[0]}***${address.slice(at)}`;
}

// Deliberately loose: anything address-shaped inside free text (SMTP diagnostics quote the recipient).
const ADDRESS_IN_TEXT = /[A-Za-z0-9._%+'-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+/g;

/** Masks every address-shaped run inside a string. */
export function maskEmailsInText(text: string): string {
  return text.includes('@') ? text.replace(ADDRESS_IN_TEXT, (m) => maskEmail(m)) : text;
}

/**
 * A copy of a log object with addresses masked in every string, depth-limited so a cyclic or huge
 * object cannot stall logging. Errors become plain objects (type, message, stack, code) so their
 * text can be masked too.
 */
export function maskEmailsDeep(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return maskEmailsInText(value);
  if (value === null || typeof value !== 'object' || depth > 5) return value;
  if (value instanceof Error) {
    const err = value as Error & { code?: unknown; responseCode?: unknown; response?: unknown };
    // An expected failure (a feed that cannot be read, a bad config) is its code and message: a
    // person fixes it from those; only a bug (or a library's error) keeps its stack.
    const expected = isDaybreakError(err) && err.code !== 'internal';
    const out: Record<string, unknown> = { type: err.name, message: maskEmailsInText(err.message), stack: err.stack && !expected ? maskEmailsInText(err.stack) : undefined };
    if (err.code !== undefined) out.code = err.code;
    if (err.responseCode !== undefined) out.responseCode = err.responseCode;
    if (typeof err.response === 'string') out.response = maskEmailsInText(err.response);
    return out;
  }
  if (value instanceof Date || Buffer.isBuffer(value)) return value;
  if (Array.isArray(value)) return value.map((v) => maskEmailsDeep(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = maskEmailsDeep(v, depth + 1);
  return out;
}
