/**
 * Gmail shows "[Message clipped] View entire message" and hides the rest (the footer with the
 * unsubscribe link included) once a message's HTML passes about 102 KB. Measured in bytes of the
 * decoded HTML, so UTF-8 length, not string length.
 */
export const GMAIL_CLIP_BYTES = 102 * 1024;

/** Returns a warning when the HTML is at or past Gmail's clipping size, else undefined. */
export function gmailClipWarning(html: string, allowanceBytes = 0): string | undefined {
  const bytes = Buffer.byteLength(html, 'utf8');
  const estimated = bytes + allowanceBytes;
  if (estimated < GMAIL_CLIP_BYTES) return undefined;
  const kb = (n: number): string => (n / 1024).toFixed(1);
  return (
    `HTML is ${kb(bytes)} KB` +
    (allowanceBytes > 0 ? ` (~${kb(estimated)} KB with per-reader values)` : '') +
    `: Gmail clips messages past ${kb(GMAIL_CLIP_BYTES)} KB, hiding the footer and unsubscribe link. Send fewer or shorter stories.`
  );
}
