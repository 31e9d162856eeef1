import { simpleParser, type ParsedMail } from 'mailparser';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';

export interface CapturedMessage {
  envelopeFrom: string;
  recipients: string[];
  raw: Buffer;
}

export interface SmtpSink {
  url: string;
  port: number;
  /** Messages the sink accepted (answered 250), in order. */
  messages: CapturedMessage[];
  /** How many times each RCPT address was refused. */
  refusals: Map<string, number>;
  waitForCount(count: number, timeoutMs?: number): Promise<void>;
  /** Stop answering DATA: messages are read but not accepted until release(). */
  hold(): void;
  /** Answer held messages whose connection is still open (a closed one's are dropped, never accepted). */
  release(): void;
  parse(message: CapturedMessage): Promise<ParsedMail>;
  /**
   * The relay goes down: stops listening and drops every open connection at once (held messages
   * are never accepted, and it no longer holds), so connections to its port are refused until start().
   */
  stop(): Promise<void>;
  /** The relay comes back, on the same port, with the same messages and options. */
  start(): Promise<void>;
  /** True while it listens. */
  readonly up: boolean;
  close(): Promise<void>;
}

export interface SinkOptions {
  /** Refuse RCPT for an address with this SMTP reply; `attempt` counts from 1 per address. */
  refuse?: (address: string, attempt: number) => { code: number; message: string } | undefined;
  /** Delay before answering DATA, as a real server takes time. */
  dataDelayMs?: number;
}

/** A real SMTP server on loopback that captures what arrives: the tests' mail sink. */
export async function startSmtpSink(options: SinkOptions = {}): Promise<SmtpSink> {
  const messages: CapturedMessage[] = [];
  const refusals = new Map<string, number>();
  const attempts = new Map<string, number>();
  let holding = false;
  const held: Array<{ session: SMTPServerSession; message: CapturedMessage; callback: (err?: Error | null) => void }> = [];
  const closedSessions = new Set<string>();
  const waiters: Array<{ count: number; resolve: () => void }> = [];
  const accept = (message: CapturedMessage, callback: (err?: Error | null) => void) => {
    messages.push(message);
    callback(null);
    for (const w of [...waiters]) if (messages.length >= w.count) { waiters.splice(waiters.indexOf(w), 1); w.resolve(); }
  };

  const sockets = new Set<import('node:net').Socket>();
  const makeServer = () => {
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ['STARTTLS', 'AUTH'],
      logger: false,
      size: 10 * 1024 * 1024,
      onRcptTo(address, _session, callback) {
        const n = (attempts.get(address.address) ?? 0) + 1;
        attempts.set(address.address, n);
        const refusal = options.refuse?.(address.address, n);
        if (refusal) {
          refusals.set(address.address, (refusals.get(address.address) ?? 0) + 1);
          const err = new Error(refusal.message) as Error & { responseCode: number };
          err.responseCode = refusal.code;
          return callback(err);
        }
        callback();
      },
      onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          const message: CapturedMessage = {
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            recipients: session.envelope.rcptTo.map((r) => r.address),
            raw: Buffer.concat(chunks),
          };
          const answer = () => {
            if (closedSessions.has(session.id)) return;
            if (holding) held.push({ session, message, callback });
            else accept(message, callback);
          };
          if (options.dataDelayMs) setTimeout(answer, options.dataDelayMs);
          else answer();
        });
      },
      onClose(session) {
        closedSessions.add(session.id);
        // A held message whose client went away was never accepted: the client never saw a 250.
        for (let i = held.length - 1; i >= 0; i--) if (held[i].session.id === session.id) held.splice(i, 1);
      },
    });
    server.server.on('connection', (socket: import('node:net').Socket) => {
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    return server;
  };
  let server = makeServer();
  let up = false;
  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.server.off('error', reject);
      up = true;
      resolve();
    });
  });
  const shut = () => new Promise<void>((resolve) => {
    if (!up) return resolve();
    up = false;
    server.server.close(() => resolve());
    for (const socket of sockets) socket.destroy();
  });
  await listen(0);
  const port = (server.server.address() as { port: number }).port;
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    refusals,
    waitForCount(count, timeoutMs = 30_000) {
      if (messages.length >= count) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`sink got ${messages.length} of ${count} messages in ${timeoutMs} ms`)), timeoutMs);
        waiters.push({ count, resolve: () => { clearTimeout(timer); resolve(); } });
      });
    },
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const h of held.splice(0)) if (!closedSessions.has(h.session.id)) accept(h.message, h.callback);
    },
    parse: (message) => simpleParser(message.raw),
    stop: async () => {
      held.splice(0);
      holding = false;
      await shut();
    },
    start: async () => {
      if (up) return;
      server = makeServer();
      await listen(port);
    },
    get up() {
      return up;
    },
    close: shut,
  };
}
