/** The outbox transport: messages written to a folder instead of sent (no SMTP_URL). */
import fs from 'node:fs/promises';
import path from 'node:path';
import type { MailTransport, OutgoingMessage, SendReceipt } from './transport';

/**
 * With no SMTP_URL, messages land in a folder: one .eml per message under the edition's folder,
 * so a newcomer can open exactly what would have been sent (see outbox-index.ts for the index).
 */
export class OutboxTransport implements MailTransport {
  readonly description: string;
  constructor(private readonly dir: string) {
    this.description = `outbox folder ${dir}`;
  }

  async send(message: OutgoingMessage): Promise<SendReceipt> {
    const folder = path.join(this.dir, message.editionId);
    await fs.mkdir(folder, { recursive: true });
    const file = path.join(folder, `${message.subscriberId}.eml`);
    // Envelope first, as Return-Path/X-Envelope-To, the way a delivering server records it.
    const envelope = Buffer.from(`Return-Path: <${message.envelopeFrom}>\r\nX-Envelope-To: <${message.to}>\r\n`);
    await fs.writeFile(file, Buffer.concat([envelope, message.raw]));
    return { response: `250 written to ${path.relative(process.cwd(), file) || file}` };
  }

  async verify(): Promise<void> {
    await fs.mkdir(this.dir, { recursive: true });
    await fs.access(this.dir, fs.constants.W_OK);
  }

  async close(): Promise<void> {
    /* nothing held open */
  }
}
