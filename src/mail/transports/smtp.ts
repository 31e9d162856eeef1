/** The SMTP transport: pooled nodemailer connections, raw pre-built messages, optional DKIM. */
import fs from 'node:fs';
import nodemailer, { type Transporter } from 'nodemailer';
import type SMTPPool from 'nodemailer/lib/smtp-pool';
import { classifySmtpError, TransportFailure } from './failure';
import type { MailTransport, OutgoingMessage, SendReceipt } from './transport';

export interface SmtpTransportOptions {
  url: string;
  maxConnections: number;
  dkim?: { domainName: string; keySelector: string; privateKeyPath: string };
}

/** Pooled SMTP: connections stay open across messages, many messages in flight at once. */
export class SmtpTransport implements MailTransport {
  readonly description: string;
  private readonly transporter: Transporter<SMTPPool.SentMessageInfo>;

  constructor(options: SmtpTransportOptions) {
    const url = new URL(options.url);
    this.description = `SMTP ${url.protocol}//${url.hostname}:${url.port || (url.protocol === 'smtps:' ? 465 : 587)}`;
    const poolOptions: SMTPPool.Options = {
      pool: true,
      host: url.hostname,
      port: Number(url.port || (url.protocol === 'smtps:' ? 465 : 587)),
      secure: url.protocol === 'smtps:',
      auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
      maxConnections: options.maxConnections,
      maxMessages: Infinity,
      // Local sinks and relays often use self-signed certificates; ?tls=strict turns checking on.
      tls: { rejectUnauthorized: url.searchParams.get('tls') === 'strict' },
      ignoreTLS: url.searchParams.get('ignoreTLS') === 'true',
      connectionTimeout: 15_000,
      greetingTimeout: 15_000,
      socketTimeout: 60_000,
      dkim: options.dkim ? { domainName: options.dkim.domainName, keySelector: options.dkim.keySelector, privateKey: fs.readFileSync(options.dkim.privateKeyPath, 'utf8') } : undefined,
    };
    this.transporter = nodemailer.createTransport(poolOptions);
  }

  /** Throws a TransportFailure: the refusal or connection trouble, classified. */
  async send(message: OutgoingMessage): Promise<SendReceipt> {
    try {
      const info = await this.transporter.sendMail({ envelope: { from: message.envelopeFrom, to: [message.to] }, raw: message.raw });
      return { response: info.response };
    } catch (error) {
      throw new TransportFailure(classifySmtpError(error), { cause: error });
    }
  }

  async verify(): Promise<void> {
    await this.transporter.verify();
  }

  async close(): Promise<void> {
    this.transporter.close();
  }
}
