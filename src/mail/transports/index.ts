/** Picks the transport: SMTP when SMTP_URL is set, else the outbox folder (loaded only when first used). */
import type { LoadedConfig } from '../../config/load';
import { resolveConfigPath } from '../../config/load';
import type { MailTransport } from './transport';

export type { MailTransport, OutgoingMessage, SendReceipt } from './transport';
export { classifySmtpError, TransportFailure, type SmtpFailure, type SmtpFailureKind } from './failure';

/** SMTP when SMTP_URL is set, else the outbox folder. */
export function createTransport(config: LoadedConfig): MailTransport {
  if (config.smtpUrl) {
    // nodemailer loads only in processes that send.
    const { SmtpTransport } = require('./smtp') as typeof import('./smtp');
    return new SmtpTransport({
      url: config.smtpUrl,
      maxConnections: config.delivery.smtpMaxConnections,
      dkim: config.delivery.dkim ? { ...config.delivery.dkim, privateKeyPath: resolveConfigPath(config, config.delivery.dkim.privateKeyPath) } : undefined,
    });
  }
  const { OutboxTransport } = require('./outbox') as typeof import('./outbox');
  return new OutboxTransport(outboxDir(config));
}

export function outboxDir(config: LoadedConfig): string {
  return resolveConfigPath(config, config.outboxDir);
}
