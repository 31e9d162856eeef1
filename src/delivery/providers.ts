/** Mailbox providers (pure): which provider group an address or MX host belongs to, and which replies mean "slow down". */
import { otherGroup, type ProviderGroup } from '../config/pacing-schema';
import type { FailureDetail } from './outcomes';

export { otherGroup };

/** The domain of an address, lowercased ('' when there is none). */
export function domainOf(email: string): string {
  const at = email.lastIndexOf('@');
  return at < 0 ? '' : email.slice(at + 1).toLowerCase();
}

/** Second-level labels countries put before their code: hotmail.co.uk, outlook.com.au, yahoo.co.jp, yahoo.ne.jp. */
const countrySecondLevels = new Set(['co', 'com', 'net', 'org', 'ne', 'or', 'ac', 'gen']);
const genericTlds = new Set(['com', 'net', 'org']);

/** `suffix` is what follows a brand label in a provider's own domain: com, fr, co.uk, com.au. */
function isCountrySuffix(suffix: string): boolean {
  const labels = suffix.split('.');
  const last = labels[labels.length - 1] as string;
  const tldOk = genericTlds.has(last) || /^[a-z]{2}$/.test(last);
  if (!tldOk) return false;
  if (labels.length === 1) return true;
  return labels.length === 2 && countrySecondLevels.has(labels[0] as string) && /^[a-z]{2}$/.test(last);
}

/**
 * The provider table, compiled once from the config: exact domains, brand labels with any country
 * suffix (outlook.de, yahoo.co.jp), and MX host suffixes. Lookups are a few map reads per domain.
 */
export class ProviderTable {
  private readonly byDomain = new Map<string, string>();
  private readonly byBrand = new Map<string, string>();
  private readonly mxSuffixes: Array<{ suffix: string; group: string }> = [];
  readonly groups: readonly string[];

  constructor(groups: readonly Pick<ProviderGroup, 'id' | 'domains' | 'brands' | 'mxHosts'>[]) {
    this.groups = groups.map((g) => g.id);
    for (const g of groups) {
      for (const d of g.domains) if (!this.byDomain.has(d)) this.byDomain.set(d, g.id);
      for (const b of g.brands) if (!this.byBrand.has(b)) this.byBrand.set(b, g.id);
      for (const h of g.mxHosts) this.mxSuffixes.push({ suffix: h, group: g.id });
    }
    // The most specific suffix first (olc.protection.outlook.com before outlook.com).
    this.mxSuffixes.sort((a, b) => b.suffix.length - a.suffix.length);
  }

  /** The group whose table claims the domain, or undefined (the MX host may still tell). */
  groupOfDomain(domain: string): string | undefined {
    const exact = this.byDomain.get(domain);
    if (exact) return exact;
    const dot = domain.indexOf('.');
    if (dot <= 0) return undefined;
    const brand = this.byBrand.get(domain.slice(0, dot));
    return brand && isCountrySuffix(domain.slice(dot + 1)) ? brand : undefined;
  }

  /** The group an MX host belongs to (`alt1.aspmx.l.google.com` -> google), or undefined. */
  groupOfMxHost(host: string): string | undefined {
    const h = host.toLowerCase().replace(/\.$/, '');
    for (const { suffix, group } of this.mxSuffixes) if (h === suffix || h.endsWith(`.${suffix}`)) return group;
    return undefined;
  }
}

/** Words providers use when they throttle a sender (checked on the bounded reply text only). */
const rateWords = /\b(?:rate|too many|throttl\w*|temporarily deferred|try again later|slow down)\b/i;
/** 4.7.x also covers refusals of our own setup (TLS, authentication): those are the relay's business. */
const setupWords = /\b(?:STARTTLS|TLS|SSL|certificate|auth\w*)\b/i;

/**
 * True when the reply asks the sender to slow down: a 4.7.x status (Gmail's 421 4.7.28, Microsoft's
 * 451 4.7.650, Yahoo's 421 4.7.0), a 421 to a message (RCPT, DATA), or a 4xx that says so in
 * words. nodemailer reports a 421 at RCPT as the connection closing (command CONN), so the status
 * decides there; a bare 421 to our connection or sender is the relay's business, not a provider's pace.
 */
export function isRateDeferral(failure: Pick<FailureDetail, 'replyCode' | 'status' | 'diagnostic' | 'command'>): boolean {
  const code = failure.replyCode;
  if (code === undefined || code < 400 || code >= 500) return false;
  const text = failure.diagnostic.slice(0, 500);
  if (setupWords.test(text)) return false;
  if (failure.status?.startsWith('4.7.')) return true;
  const toMessage = failure.command === 'RCPT' || failure.command === 'DATA';
  if (code === 421) return toMessage || rateWords.test(text);
  return rateWords.test(text);
}
