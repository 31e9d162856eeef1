/**
 * What an SMTP failure means for a send (pure). Permanent: the reader's server refused for good
 * (5xx). Transient: try again later (4xx). Connection: our link or TLS failed; neither a bounce
 * nor the reader's fault, so it is retried and never counted against them.
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
}

const enhancedStatus = /\b([245])\.(\d{1,3})\.(\d{1,3})\b/;

/** Reads nodemailer's error shape (responseCode, response, code) without depending on its classes. */
export function classifySmtpError(error: unknown): SmtpFailure {
  const e = (error ?? {}) as { responseCode?: number; response?: string; code?: string; message?: string };
  const diagnostic = (e.response || e.message || String(error)).replace(/\s+/g, ' ').trim().slice(0, 500);
  const replyCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const status = enhancedStatus.exec(e.response ?? '')?.[0];
  if (replyCode === undefined) return { kind: 'connection', diagnostic };
  if (replyCode >= 500 && replyCode < 600) {
    // 5.2.2 mailbox full is a temporary condition in practice, whatever the reply class says.
    if (status === '5.2.2') return { kind: 'transient', replyCode, status, diagnostic };
    return { kind: 'permanent', replyCode, status, diagnostic };
  }
  if (replyCode >= 400 && replyCode < 500) return { kind: 'transient', replyCode, status, diagnostic };
  return { kind: 'connection', replyCode, status, diagnostic };
}
