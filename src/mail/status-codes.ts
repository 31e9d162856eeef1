/** Finding RFC 3463 enhanced status codes and RFC 5321 reply codes in free text (pure). */

const enhanced = /(?:^|[^\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)/;
const enhancedAll = /(?:^|[^\d.])([245])\.(\d{1,3})\.(\d{1,3})(?![\d.]*\d)/g;
const reply = /(?:^|[^\d.\-:/])([245][0-5]\d)(?:[ \-]|$)/;

/** The first enhanced status code in the text, e.g. "5.1.1"; prefers a specific one over x.0.0. */
export function findStatus(text: string | undefined): string | undefined {
  if (!text) return undefined;
  const all = [...text.matchAll(enhancedAll)].map((m) => `${m[1]}.${m[2]}.${m[3]}`).filter((s) => Number(s.split('.')[1]) <= 7);
  if (!all.length) return undefined;
  return all.find((s) => !s.endsWith('.0.0')) ?? all[0];
}

/** The first SMTP reply code in the text, e.g. 550. */
export function findReplyCode(text: string | undefined): number | undefined {
  if (!text) return undefined;
  // Skip dates, IPs and times: a reply code stands before a space, a dash or the end.
  const m = reply.exec(text.replace(/\b\d{1,3}(?:\.\d{1,3}){3}\b/g, ' ').replace(/\b\d{1,2}:\d{2}(?::\d{2})?\b/g, ' '));
  return m ? Number(m[1]) : undefined;
}

export function isEnhancedStatus(value: string): boolean {
  return enhanced.test(` ${value}`) && /^[245]\.\d{1,3}\.\d{1,3}$/.test(value);
}

/** 'permanent' for 5.x.x / 5xx, 'temporary' for 4.x.x / 4xx, undefined when neither says. */
export function statusClass(status?: string, replyCode?: number): 'permanent' | 'temporary' | undefined {
  const first = status?.[0] ?? (replyCode ? String(replyCode)[0] : undefined);
  if (first === '5') return 'permanent';
  if (first === '4') return 'temporary';
  return undefined;
}
