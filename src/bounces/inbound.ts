/** A message to the bounce domain: parse it (any format), turn its failures into events with their hints, apply them. */
import crypto from 'node:crypto';
import type { BouncesConfig } from '../config/bounces-schema';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import { findVerpTargets, parseVerpAddress, verpAddress, verpSettings, type VerpTarget } from '../mail/verp';
import type { SubscriberStore } from '../subscribers/store';
import type { BounceStore } from './bounce-store';
import type { BounceEvent, RecordOutcome } from './events';
import { headerValue } from './message-parts';
import { attributeToReader, parseBounce, type BounceReport, type ParseOptions, type RecipientResult } from './parse-bounce';
import type { ParsedBounce } from './parse-worker';
import type { BouncePolicy } from './policy';
import { senderFaultReasons, type BounceReason } from './reason';

export interface InboundDeps {
  bouncePolicy: Pick<BouncePolicy, 'record'>;
  bounces: Pick<BounceStore, 'keepUnparsed'>;
  subscribers: Pick<SubscriberStore, 'get'>;
  clock: Clock;
  logger: Logger;
  config: { secret: string; delivery: { bounceDomain?: string; bounceLocalPart: string }; bounces: BouncesConfig };
}

export interface InboundEnvelope {
  mailFrom: string;
  rcptTo: string[];
}

export interface InboundResult {
  report: Omit<BounceReport, never>;
  /** How the message was tied to a reader (the first event's attribution), or none. */
  attribution: string;
  outcomes: RecordOutcome[];
  /** Kept in the unparsed list for ops (not a bounce we could read). */
  kept: boolean;
}

const keepRawBytes = 256 * 1024;
/** A VERP address quoted in a report (Return-Path of the returned headers) sits near its top. */
const verpScanChars = 1024 * 1024;

/** How a message is parsed: in this thread by default; the bounce server passes its worker thread. */
export type BounceParser = (raw: Buffer, options: Pick<ParseOptions, 'sentTo'>) => Promise<ParsedBounce>;

/** The readers' addresses behind VERP targets: the addresses those copies were sent to. */
async function readersAddresses(runtime: InboundDeps, targets: VerpTarget[]): Promise<string[]> {
  const out: string[] = [];
  for (const t of targets.slice(0, 5)) {
    const sub = await runtime.subscribers.get(t.subscriberId);
    if (sub) out.push(sub.email);
  }
  return out;
}

/**
 * Events for one parsed report, one per failed recipient, each with the report's hints: the VERP
 * addresses it reached us through or quotes, and the Message-IDs of the returned message. Which
 * copy they prove is attribution's business (attribution.ts), as for every other way in.
 */
export function eventsFromReport(report: BounceReport, input: { verpAddresses: string[]; eventKey: string; at: Date }): BounceEvent[] {
  const hints = { verpAddresses: input.verpAddresses, messageIds: report.originalMessageIds };
  return report.recipients.filter((r) => r.kind !== 'delivered').map((r: RecipientResult): BounceEvent => ({
    id: `dsn:${input.eventKey}:${r.recipient}`,
    source: 'dsn',
    kind: r.kind === 'complaint' ? 'complaint' : r.action === 'delayed' ? 'delayed' : r.kind === 'hard' ? 'hard' : 'soft',
    email: r.recipient,
    hints,
    status: r.status,
    replyCode: r.replyCode,
    diagnostic: r.diagnostic,
    reason: r.reason,
    senderFault: senderFaultReasons.has(r.reason as BounceReason),
    feedbackType: report.feedbackType,
    at: input.at,
  }));
}

/**
 * Handles one message delivered to the bounce domain: parse, attribute, apply the policy. Auto-
 * replies and success reports are ignored; what cannot be read is kept and reported, never counted.
 */
export async function processInbound(runtime: InboundDeps, raw: Buffer, envelope: InboundEnvelope, options: { parse?: BounceParser } = {}): Promise<InboundResult> {
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
  const verpAddresses = [...envelope.rcptTo];
  if (settings && !verp.length) {
    const quoted = findVerpTargets(settings, parts.raw.slice(0, verpScanChars));
    verp.push(...quoted);
    verpAddresses.push(...quoted.map((t) => verpAddress(settings, t)));
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
  const events = eventsFromReport(report, { verpAddresses, eventKey, at: now });
  if (!events.length) {
    await keepUnparsed(runtime, raw, envelope, parts.subject, parts.from, 'a report with no failed recipient we could read');
    return { report, attribution: 'none', outcomes: [], kept: true };
  }
  const outcomes: RecordOutcome[] = [];
  for (const event of events) outcomes.push(await runtime.bouncePolicy.record(event));
  return { report, attribution: outcomes[0]?.attribution ?? 'none', outcomes, kept: false };
}

async function keepUnparsed(runtime: InboundDeps, raw: Buffer, envelope: InboundEnvelope, subject: string, from: string, note: string): Promise<void> {
  await runtime.bounces.keepUnparsed({ at: runtime.clock.now().toISOString(), mailFrom: envelope.mailFrom, rcptTo: envelope.rcptTo, from, subject, note, size: raw.length, raw: raw.subarray(0, keepRawBytes).toString('latin1') }, runtime.config.bounces.keepUnparsed);
}
