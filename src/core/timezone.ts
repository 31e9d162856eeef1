/** IANA time zones (pure): is a name one, in its canonical spelling, and the list to choose from. */

/** Zone names are short ASCII ("America/Argentina/Buenos_Aires", "Etc/GMT+10"); anything else is not one. */
const zoneShape = /^[A-Za-z][A-Za-z0-9_+\-/]{0,63}$/;

/**
 * The canonical name of an IANA time zone ("europe/london" -> "Europe/London"), or undefined when
 * it is not one. Intl decides, so it agrees with every date computation made in that zone.
 */
export function canonicalTimeZone(value: string): string | undefined {
  const v = value.trim();
  if (!zoneShape.test(v)) return undefined;
  try {
    return new Intl.DateTimeFormat('en-GB', { timeZone: v }).resolvedOptions().timeZone;
  } catch {
    return undefined;
  }
}

let names: string[] | undefined;

/** Every zone a reader may choose, in Intl's order (grouped by region), and UTC: ~400 names. */
export function timeZoneNames(): readonly string[] {
  names ??= [...new Set([...Intl.supportedValuesOf('timeZone'), 'UTC'])];
  return names;
}
