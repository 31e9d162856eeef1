/** Which feed images an email may show: raster formats every major client displays, never SVG or WebP. */

/**
 * Gmail's webmail and Outlook for Windows show no SVG; Outlook for Windows shows no WebP, and AVIF,
 * HEIC, JPEG XL and TIFF fare worse. An image in one of these would be a broken picture at the
 * top of the email, so it is left out (the story keeps its headline and summary).
 */
const UNSHOWN_FORMATS: ReadonlySet<string> = new Set(['svg', 'svgz', 'webp', 'avif', 'heic', 'heif', 'jxl', 'tif', 'tiff']);

/** Formats every major client shows; with UNSHOWN_FORMATS, the names a CDN parameter is trusted with. */
const SHOWN_FORMATS: ReadonlySet<string> = new Set(['jpg', 'jpeg', 'jpe', 'jfif', 'pjpg', 'pjpeg', 'png', 'png8', 'png24', 'png32', 'gif', 'bmp']);

/** Query parameters image CDNs read as "convert to this format" (imgix and Sanity fm, Cloudflare and Fastly format, weserv output). */
const FORMAT_PARAMS = ['fm', 'format', 'output', 'imformat'] as const;

/** Longest URL looked at: anything longer is not an image URL a feed means. */
const MAX_URL_LENGTH = 2048;

/** "webp", "image/webp" or "image/svg+xml" -> "webp", "svg"; undefined for anything that is not a known image format ("auto", "large"). */
function knownFormat(value: string): string | undefined {
  if (value.length > 40) return undefined;
  const lower = value.trim().toLowerCase();
  const subtype = lower.startsWith('image/') ? lower.slice('image/'.length) : lower;
  const plus = subtype.indexOf('+');
  const name = plus === -1 ? subtype : subtype.slice(0, plus);
  return SHOWN_FORMATS.has(name) || UNSHOWN_FORMATS.has(name) ? name : undefined;
}

/**
 * The format a URL names, if it names one: a CDN format parameter (`?fm=webp`), else a
 * Cloudinary-style `f_webp` path option, else the file extension of the last path segment
 * (`flag.svg.png` is a PNG). Undefined when nothing says (an extension-less CDN URL).
 */
export function imageFormatOf(url: string): string | undefined {
  if (url.length > MAX_URL_LENGTH) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return undefined;
  }
  for (const name of FORMAT_PARAMS) {
    const value = parsed.searchParams.get(name);
    const format = value ? knownFormat(value) : undefined;
    if (format) return format;
  }
  const segments = parsed.pathname.split('/');
  for (const segment of segments) {
    for (const option of segment.split(',')) {
      const format = option.startsWith('f_') ? knownFormat(option.slice(2)) : undefined;
      if (format) return format;
    }
  }
  const last = segments[segments.length - 1] ?? '';
  const dot = last.lastIndexOf('.');
  return dot > 0 ? knownFormat(last.slice(dot + 1)) : undefined;
}

/** May an email show this image? http(s) only, and not in a format some major client cannot show. */
export function isEmailSafeImage(url: string): boolean {
  if (url.length > MAX_URL_LENGTH || !/^https?:\/\//i.test(url)) return false;
  const format = imageFormatOf(url);
  return format === undefined || !UNSHOWN_FORMATS.has(format);
}

/** The first candidate an email can show (feeds often list a WebP and a JPEG of the same picture). */
export function pickEmailImage(candidates: Iterable<string | undefined>): string | undefined {
  for (const url of candidates) if (url && isEmailSafeImage(url)) return url;
  return undefined;
}
