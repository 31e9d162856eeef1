/** What a failed send means (pure), and the typed error a transport throws with it. */
import type { SmtpCommand } from './transport';
import { findStatus } from '../status-codes';

/**
 * Permanent: the reader's server refused for good (5xx): settle as failed now, no retry.
 * Transient: try again later (4xx, and 5.2.2 mailbox full, which clears on its own).
 * Connection: trouble on our side of the wire (the link, TLS, the relay's authentication, our own
 * sender refused, a 421 closing the session): neither a bounce nor the reader's fault, so it is
 * retried and never counted against them.
 */
export type SmtpFailureKind = 'permanent' | 'transient' | 'connection';

export interface SmtpFailure {
  kind: SmtpFailureKind;
  /** SMTP reply code, e.g. 550. */
  replyCode?: number;
  /** RFC 3463 enhanced status, e.g. "5.1.1". */
  status?: string;
  /** The server's reply text, or the local error. */
  diagnostic: string;
  /** The command the server was answering, when known. */
  command?: SmtpCommand;
}

/** Thrown by a transport whose send failed: the failure already classified. */
export class TransportFailure extends Error {
  constructor(readonly failure: SmtpFailure, options: { cause?: unknown } = {}) {
    super(failure.diagnostic, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'TransportFailure';
  }
}

/** nodemailer error codes for failures that never reached the reader's mailbox question. */
const localCodes = new Set(['ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'ETLS', 'EDNS', 'EAUTH', 'ECONFIG', 'EPROXY', 'ENOAUTH', 'EOAUTH2', 'ECONNRESET', 'ECONNREFUSED', 'EHOSTUNREACH', 'ENOTFOUND']);


function commandOf(value: string | undefined): SmtpCommand | undefined {
  const v = (value ?? '').toUpperCase();
  if (v.startsWith('RCPT')) return 'RCPT';
  if (v.startsWith('MAIL')) return 'MAIL';
  if (v.startsWith('DATA') || v === 'MESSAGE') return 'DATA';
  if (v.startsWith('EHLO') || v.startsWith('HELO') || v.startsWith('LHLO')) return 'HELO';
  if (v === 'CONN' || v.startsWith('GREETING')) return 'CONN';
  return undefined;
}

/** Reads nodemailer's error shape (responseCode, response, code, command) without depending on its classes. */
export function classifySmtpError(error: unknown): SmtpFailure {
  if (error instanceof TransportFailure) return error.failure;
  const e = (error ?? {}) as { responseCode?: number; response?: string; code?: string; message?: string; command?: string };
  const diagnostic = (e.response || e.message || String(error)).replace(/\s+/g, ' ').trim().slice(0, 500);
  const replyCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const status = findStatus((e.response ?? '').slice(0, 1000));
  const command = commandOf(e.command) ?? (e.code === 'EMESSAGE' ? 'DATA' : undefined);
  if (replyCode === undefined || (e.code && localCodes.has(e.code))) return { kind: 'connection', replyCode, status, diagnostic, command };
  // 421: the server is closing the whole session; TLS and relay-auth refusals are our setup.
  if (replyCode === 421 || /\b(?:STARTTLS|TLS|SSL|certificate|handshake)\b/i.test(diagnostic) && (replyCode === 454 || replyCode === 530 || status === '4.7.0' || status === '5.7.0')) {
    return { kind: 'connection', replyCode, status, diagnostic, command };
  }
  if (replyCode === 530 || replyCode === 535 || status === '5.7.8' || status === '5.7.9' || status === '4.7.12') return { kind: 'connection', replyCode, status, diagnostic, command };
  // Our envelope sender refused (MAIL FROM): the problem is ours, whatever the class.
  if (command === 'MAIL' || command === 'HELO' || command === 'CONN') return { kind: 'connection', replyCode, status, diagnostic, command };
  if (replyCode >= 500 && replyCode < 600) {
    // 5.2.2 mailbox full is a temporary condition in practice, whatever the reply class says.
    if (status === '5.2.2') return { kind: 'transient', replyCode, status, diagnostic, command };
    return { kind: 'permanent', replyCode, status, diagnostic, command };
  }
  if (replyCode >= 400 && replyCode < 500) return { kind: 'transient', replyCode, status, diagnostic, command };
  return { kind: 'connection', replyCode, status, diagnostic, command };
}
