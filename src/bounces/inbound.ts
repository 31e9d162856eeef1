import crypto from 'node:crypto';
import { parseMessageId } from '../mail/personalise';
import type { Runtime } from '../app/runtime';
import type { BounceEvent, RecordOutcome } from './events';
import { headerValue } from './message-parts';
import { attributeToReader, parseBounce, type BounceReport, type ParseOptions, type RecipientResult } from './parse-bounce';
import type { ParsedBounce } from './parse-worker';
import { BouncePolicy } from './policy';
import { senderFaultReasons, type BounceReason } from './reason';
import { findVerpTargets, parseVerpAddress, verpSettings, type VerpTarget } from '../mail/verp';

export interface InboundEnvelope {
  mailFrom: string;
  rcptTo: string[];
}

export interface InboundResult {
  report: Omit<BounceReport, never>;
  /** How the message was tied to a reader: verp, message-id, address, or none. */
  attribution: string;
  outcomes: RecordOutcome[];
  /** Kept in the unparsed list for ops (not a bounce we could read). */
  kept: boolean;
}

/** A message we could not read, kept for ops (`daybreak bounces unparsed`). */
export interface UnparsedMessage {
  at: string;
  mailFrom: string;
  rcptTo: string[];
  from: string;
  subject: string;
  note: string;
  size: number;
  /** The message as received (latin1), cut at 256 KB. */
  raw: string;
}

const keepRawBytes = 256 * 1024;
/** A VERP address quoted in a report (Return-Path of the returned headers) sits near its top. */
const verpScanChars = 1024 * 1024;

/** How a message is parsed: in this thread by default; the bounce server passes its worker thread. */
export type BounceParser = (raw: Buffer, options: Pick<ParseOptions, 'sentTo'>) => Promise<ParsedBounce>;

/** The readers' addresses behind VERP targets: the addresses those copies were sent to. */
async function readersAddresses(runtime: Runtime, targets: VerpTarget[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets.slice(0, 5)) {
    const sub = await runtime.subscribers.get(t.subscriberId);
    if (sub) out.push(sub.email);
  }
  return out;
}

/**
 * Events for one parsed report, attributed by the VERP token first (the RCPT address, or one
 * quoted in the report), then our Message-ID in the returned headers, then the address.
 */
export function eventsFromReport(report: BounceReport, input: { verp: VerpTarget[]; eventKey: string; at: Date }): { events: BounceEvent[]; attribution: string } {
  const failed = report.recipients.filter((r) => r.kind !== 'delivered');
  const target = input.verp[0];
  let fromMessageId: { editionId: string; subscriberId: string; messageId: string } | undefined;
  for (const id of report.originalMessageIds) {
    const parsed = parseMessageId(id);
    if (parsed) {
      fromMessageId = { ...parsed, messageId: id };
      break;
    }
  }
  const attribution = target ? 'verp' : fromMessageId ? 'message-id' : failed.length ? 'address' : 'none';
  const events = failed.map((r: RecipientResult): BounceEvent => {
    const kind: BounceEvent['kind'] = r.kind === 'complaint' ? 'complaint' : r.action === 'delayed' ? 'delayed' : r.kind === 'hard' ? 'hard' : 'soft';
    return {
      id: `dsn:${input.eventKey}:${r.recipient}`,
      source: 'dsn',
      kind,
      email: r.recipient,
      ...(target ? { editionId: target.editionId, subscriberId: target.subscriberId, attribution: 'verp' as const }
        : fromMessageId ? { editionId: fromMessageId.editionId, subscriberId: fromMessageId.subscriberId, messageId: fromMessageId.messageId, attribution: 'message-id' as const }
          : { attribution: 'address' as const }),
      status: r.status,
      replyCode: r.replyCode,
      diagnostic: r.diagnostic,
      reason: r.reason,
      senderFault: senderFaultReasons.has(r.reason as BounceReason),
      feedbackType: report.feedbackType,
      at: input.at,
    };
  });
  return { events, attribution };
}

/**
 * Handles one message delivered to the bounce domain: parse, attribute, apply the policy. Auto-
 * replies and success reports are ignored; what cannot be read is kept and reported, never counted.
 */
export async function processInbound(runtime: Runtime, raw: Buffer, envelope: InboundEnvelope, options: { parse?: BounceParser } = {}): Promise<InboundResult> {
  const now = runtime.clock.now();
  const settings = verpSettings(runtime.config);
  const verp: VerpTarget[] = [];
  if (settings) {
    for (const rcpt of envelope.rcptTo) {
      const check = parseVerpAddress(settings, rcpt);
      if (check.ok) verp.push(check.target);
    }
  }
  // A bounce to a VERP address is about one copy: the parser attributes it to that reader's address.
  const sentTo = await readersAddresses(runtime, verp);
  const parse: BounceParser = options.parse ?? ((message, o) => parseBounce(message, { maxMessageBytes: runtime.config.bounces.server.maxMessageBytes, timeBudgetMs: runtime.config.bounces.server.parseTimeBudgetMs, ...o }));
  let parsed: ParsedBounce;
  try {
    parsed = await parse(raw, { sentTo });
  } catch (error) {
    // A message that breaks the parser is kept, not refused: a 4xx would have the sender retry it for days.
    await keepUnparsed(runtime, raw, envelope, '', '', `parser error: ${(error as Error).message}`);
    runtime.logger.warn({ err: error, rcptTo: envelope.rcptTo }, 'kept a message the bounce parser could not read');
    return { report: { isBounce: false, kind: 'unrecognised', format: 'unknown', recipients: [], originalMessageIds: [], originalMailFrom: [], note: 'parser error' }, attribution: 'none', outcomes: [], kept: true };
  }
  const { parts, ...parsedReport } = parsed;
  let report: BounceReport = parsedReport;
  if (settings && !verp.length) {
    verp.push(...findVerpTargets(settings, parts.raw.slice(0, verpScanChars)));
    if (verp.length) report = attributeToReader(report, await readersAddresses(runtime, verp));
  }
  // The report's own Message-ID names it across redeliveries; without one, its bytes do.
  const ownId = headerValue(parts.headers, 'message-id');
  const eventKey = crypto.createHash('sha256').update(ownId ?? raw).digest('hex').slice(0, 24);

  if (!report.isBounce) {
    const kept = report.kind === 'unrecognised' || (report.kind === 'complaint' && report.recipients.length === 0);
    if (kept) await keepUnparsed(runtime, raw, envelope, parts.subject, parts.from, report.note ?? 'unrecognised');
    runtime.logger.info({ kind: report.kind, note: report.note, rcptTo: envelope.rcptTo, kept }, kept ? 'kept a message we could not read as a bounce' : 'ignored a message that is not a bounce');
    return { report, attribution: 'none', outcomes: [], kept };
  }
  const { events, attribution } = eventsFromReport(report, { verp, eventKey, at: now });
  if (!events.length) {
    await keepUnparsed(runtime, raw, envelope, parts.subject, parts.from, 'a report with no failed recipient we could read');
    return { report, attribution, outcomes: [], kept: true };
  }
  const policy = new BouncePolicy(runtime);
  const outcomes: RecordOutcome[] = [];
  for (const event of events) outcomes.push(await policy.record(event));
  return { report, attribution, outcomes, kept: false };
}

async function keepUnparsed(runtime: Runtime, raw: Buffer, envelope: InboundEnvelope, subject: string, from: string, note: string): Promise<void> {
  const keep = runtime.config.bounces.keepUnparsed;
  if (keep === 0) return;
  const entry: UnparsedMessage = { at: runtime.clock.now().toISOString(), mailFrom: envelope.mailFrom, rcptTo: envelope.rcptTo, from, subject, note, size: raw.length, raw: raw.subarray(0, keepRawBytes).toString('latin1') };
  const key = runtime.keys.unparsedBounces();
  await runtime.redis.multi().lpush(key, JSON.stringify(entry)).ltrim(key, 0, keep - 1).exec();
}

export async function listUnparsed(runtime: Runtime, limit: number): Promise<UnparsedMessage[]> {
  return (await runtime.redis.lrange(runtime.keys.unparsedBounces(), 0, limit - 1)).map((l) => JSON.parse(l) as UnparsedMessage);
}

export async function countUnparsed(runtime: Runtime): Promise<number> {
  return runtime.redis.llen(runtime.keys.unparsedBounces());
}
