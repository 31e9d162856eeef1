import type { LoadedConfig } from '../../config/load';
import { resolveConfigPath } from '../../config/load';
import { OutboxTransport } from './outbox';
import { SmtpTransport } from './smtp';
import type { MailTransport } from './transport';

export type { MailTransport, OutgoingMessage, SendReceipt } from './transport';

/** SMTP when SMTP_URL is set, else the outbox folder. */
export function createTransport(config: LoadedConfig): MailTransport {
  if (config.smtpUrl) {
    return new SmtpTransport({
      url: config.smtpUrl,
      maxConnections: config.delivery.smtpMaxConnections,
      dkim: config.delivery.dkim ? { ...config.delivery.dkim, privateKeyPath: resolveConfigPath(config, config.delivery.dkim.privateKeyPath) } : undefined,
    });
  }
  return new OutboxTransport(outboxDir(config));
}

export function outboxDir(config: LoadedConfig): string {
  return resolveConfigPath(config, config.outboxDir);
}
