/** The SMTP command a server was answering when it refused (for classifying the refusal). */
export type SmtpCommand = 'CONN' | 'HELO' | 'MAIL' | 'RCPT' | 'DATA';

/** One interface, many transports (as nodemailer does it): SMTP for real, an outbox folder for demos. */
export interface OutgoingMessage {
  /** Envelope sender (MAIL FROM): where bounces go. */
  envelopeFrom: string;
  to: string;
  /** The complete RFC 5322 message, built once per reader from the edition's MIME template. */
  raw: Buffer;
  messageId: string;
  /** For file names and logs. */
  editionId: string;
  subscriberId: string;
}

export interface SendReceipt {
  /** The server's final reply, e.g. "250 2.0.0 Ok: queued as ABC". */
  response: string;
}

export interface MailTransport {
  readonly description: string;
  send(message: OutgoingMessage): Promise<SendReceipt>;
  /** Checks the transport can send now (connects, or the folder is writable). */
  verify(): Promise<void>;
  close(): Promise<void>;
}
