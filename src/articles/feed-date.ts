/** Feed dates as real feeds write them: RFC 822/2822/3339 and the loose variants around them. */

const MONTHS: Record<string, number> = {};
(
  [
    ['jan', 'january', 'janv', 'ene', 'gen', 'januar', 'janeiro', 'enero', 'gennaio', 'janvier', 'januari'],
    ['feb', 'february', 'fev', 'fév', 'févr', 'fevr', 'février', 'fevereiro', 'febrero', 'febbraio', 'februar', 'februari'],
    ['mar', 'march', 'mär', 'märz', 'mrz', 'mrt', 'mars', 'março', 'marzo', 'maart'],
    ['apr', 'april', 'abr', 'avr', 'avril', 'abril', 'aprile'],
    ['may', 'mai', 'mag', 'mei', 'maio', 'mayo', 'maggio'],
    ['jun', 'june', 'juin', 'giu', 'junho', 'junio', 'giugno', 'juni'],
    ['jul', 'july', 'juil', 'juillet', 'lug', 'julho', 'julio', 'luglio', 'juli'],
    ['aug', 'august', 'ago', 'août', 'aout', 'agosto', 'augustus'],
    ['sep', 'sept', 'september', 'set', 'setembro', 'septiembre', 'settembre', 'septembre'],
    ['oct', 'october', 'okt', 'out', 'ott', 'outubro', 'octubre', 'ottobre', 'octobre', 'oktober'],
    ['nov', 'november', 'novembre', 'novembro', 'noviembre'],
    ['dec', 'december', 'dez', 'dic', 'déc', 'dezember', 'dezembro', 'diciembre', 'dicembre', 'décembre'],
  ] as const
).forEach((names, month) => names.forEach((n) => (MONTHS[n] = month)));

/**
 * Zone names, in minutes east of UTC. RFC 822's obsolete US names and UT/GMT/Z, plus the ones
 * feeds use in practice. Ambiguous abbreviations take the reading feeds most often mean: CST is
 * US Central (RFC 822), IST is India, BST is British Summer Time.
 */
const ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0, WET: 0, BST: 60, IST: 330, CET: 60, MET: 60, MEZ: 60, WEST: 60, CEST: 120, MEST: 120, MESZ: 120,
  EET: 120, EEST: 180, MSK: 180, SAST: 120, CAT: 120, EAT: 180, WAT: 60,
  EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
  AST: -240, ADT: -180, NST: -210, NDT: -150, AKST: -540, AKDT: -480, HST: -600, BRT: -180, ART: -180,
  JST: 540, KST: 540, HKT: 480, SGT: 480, PHT: 480, WIB: 420,
  AEST: 600, AEDT: 660, ACST: 570, ACDT: 630, AWST: 480, NZST: 720, NZDT: 780,
};

/** The longest date text worth looking at: anything longer is not a date, and is not scanned. */
const MAX_DATE_LENGTH = 128;

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)? ?(Z|z|[+-]\d{2}(?::?\d{2})?)?)?$/;
const TIME = /^(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d{1,9})?)?$/;
const OFFSET = /^([+-])(\d{2}):?(\d{2})?$/;
const NAMED_OFFSET = /^(?:GMT|UTC|UT)([+-])(\d{1,2})(?::?(\d{2}))?$/i;

/**
 * Parses the dates real feeds carry: ISO 8601 / RFC 3339 (seconds and zone optional, `T` or a
 * space between date and time) and RFC 822/2822 with its loose variants: day names optional and
 * in any case or language, full or abbreviated month names, month before or after the day, ctime
 * order (`Mon Jul 21 00:00:00 UTC 2008`), two-digit years, seconds optional, numeric offsets,
 * zone names (table above), military letters (read as UTC, as RFC 2822 section 4.3 says, since
 * RFC 822 gave them the wrong sign) and a trailing comment in parentheses. A date with no zone is
 * taken as UTC, so the result never depends on the server's time zone. Anything it cannot read
 * for certain (an unknown word, a 31 February) gives undefined rather than a guess.
 *
 * Linear: the text is capped at 128 characters, split once into tokens, each token matched by an
 * anchored pattern without nested quantifiers.
 */
export function parseFeedDate(value: string): Date | undefined {
  const text = value.trim().replace(/\s+/g, ' ');
  if (!text || text.length > MAX_DATE_LENGTH) return undefined;

  const iso = ISO.exec(text);
  if (iso) {
    const [, y, mo, d, hh, mi, ss, fraction, zone] = iso;
    let offset = 0;
    if (zone && zone.toUpperCase() !== 'Z') {
      const m = OFFSET.exec(zone);
      if (!m) return undefined;
      offset = (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3] ?? 0));
    }
    const ms = fraction ? Math.round(Number(`0.${fraction}`) * 1000) : 0;
    return build(Number(y), Number(mo) - 1, Number(d), Number(hh ?? 0), Number(mi ?? 0), Number(ss ?? 0), ms, offset);
  }
  return parseLoose(text);
}

function parseLoose(text: string): Date | undefined {
  // A trailing "(Pacific Standard Time)" is a comment in RFC 822.
  const paren = text.indexOf('(');
  const body = paren > 0 && text.endsWith(')') ? text.slice(0, paren) : text;
  const tokens = body.split(/[ ,]+/).filter(Boolean).flatMap(splitDashedDate);

  let day: number | undefined;
  let month: number | undefined;
  let year: number | undefined;
  let time: [number, number, number] | undefined;
  let offset: number | undefined;
  let meridiem: 'am' | 'pm' | undefined;

  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i];
    const lower = token.toLowerCase().replace(/\.$/, '');
    if (/^\d+$/.test(token)) {
      if (token.length === 4 && year === undefined) year = Number(token);
      // "1500" after the year is a colon-less time (RFC 822 allows HHMM).
      else if (token.length === 4 && time === undefined) time = [Number(token.slice(0, 2)), Number(token.slice(2)), 0];
      else if (token.length <= 2 && day === undefined) day = Number(token);
      else if (token.length === 2 && year === undefined && month !== undefined) year = twoDigitYear(Number(token));
      else return undefined;
      continue;
    }
    const t = TIME.exec(token);
    if (t) {
      if (time) return undefined;
      time = [Number(t[1]), Number(t[2]), Number(t[3] ?? 0)];
      continue;
    }
    if (lower === 'am' || lower === 'pm') {
      if (!time || meridiem) return undefined;
      meridiem = lower;
      continue;
    }
    const zone = zoneOffset(token);
    if (zone !== undefined) {
      // A lone "A".."Z" before any date part is not a zone ("A" is not a day name either).
      if (offset !== undefined || (token.length === 1 && time === undefined)) return undefined;
      offset = zone;
      continue;
    }
    const m = monthOf(lower);
    if (m !== undefined && month === undefined) {
      month = m;
      continue;
    }
    // A leading word that is not a month is the day name (any language); "at" may join date and time.
    if (/^\p{L}{2,12}$/u.test(lower) && month === undefined && day === undefined && time === undefined && i === 0) continue;
    if (lower === 'at' && time === undefined && year !== undefined) continue;
    return undefined;
  }

  if (day === undefined || month === undefined || year === undefined) return undefined;
  let [hh, mm, ss] = time ?? [0, 0, 0];
  if (meridiem) {
    if (hh < 1 || hh > 12) return undefined;
    hh = (hh % 12) + (meridiem === 'pm' ? 12 : 0);
  }
  return build(year, month, day, hh, mm, ss, 0, offset ?? 0);
}

/** "02-Jun-2008" (seen in the wild) reads as three tokens; an ISO date token as year, month, day. */
function splitDashedDate(token: string): string[] {
  const dashed = /^(\d{1,2})-(\p{L}{3,9})-(\d{2}|\d{4})$/u.exec(token);
  if (dashed) return [dashed[1], dashed[2], dashed[3]];
  const iso = /^(\d{4})[-/](\d{1,2})[-/](\d{1,2})$/.exec(token);
  if (iso) {
    const month = Number(iso[2]) - 1;
    const name = Object.keys(MONTHS).find((k) => MONTHS[k] === month && k.length === 3);
    return name ? [iso[3], name, iso[1]] : [token];
  }
  return [token];
}

function monthOf(lower: string): number | undefined {
  if (lower.length > 12) return undefined;
  return MONTHS[lower] ?? (lower.length > 3 ? MONTHS[lower.slice(0, 3)] : undefined);
}

function twoDigitYear(y: number): number {
  // RFC 2822 section 4.3: 00-49 are 2000-2049, 50-99 are 1950-1999.
  return y < 50 ? 2000 + y : 1900 + y;
}

/** Minutes east of UTC for a zone token, or undefined if it is not one. */
function zoneOffset(token: string): number | undefined {
  const numeric = OFFSET.exec(token);
  if (numeric && token.length >= 3) {
    return (numeric[1] === '-' ? -1 : 1) * (Number(numeric[2]) * 60 + Number(numeric[3] ?? 0));
  }
  const named = NAMED_OFFSET.exec(token);
  if (named) {
    const hours = Number(named[2]);
    if (hours > 14) return undefined;
    return (named[1] === '-' ? -1 : 1) * (hours * 60 + Number(named[3] ?? 0));
  }
  const upper = token.toUpperCase();
  if (upper in ZONES) return ZONES[upper];
  // Military single letters other than J (RFC 822): meaning unreliable, so UTC (RFC 2822 4.3).
  if (/^[A-IK-Y]$/i.test(token)) return 0;
  return undefined;
}

function build(year: number, month: number, day: number, hh: number, mm: number, ss: number, ms: number, offsetMinutes: number): Date | undefined {
  if (month < 0 || month > 11 || day < 1 || day > 31 || hh > 24 || mm > 59 || ss > 60 || year < 1900 || year > 9999) return undefined;
  if (hh === 24 && (mm > 0 || ss > 0)) return undefined;
  // Date.UTC would roll 31 February into March; a real feed date never needs that.
  if (new Date(Date.UTC(year, month, day)).getUTCDate() !== day) return undefined;
  // A leap second (":60") is read as the last second of the minute.
  const time = Date.UTC(year, month, day, hh, mm, Math.min(ss, 59), ms) - offsetMinutes * 60_000;
  const date = new Date(time);
  return Number.isNaN(date.getTime()) ? undefined : date;
}
