/** Runs the bounce parser in a worker thread, so no message can hold up the thread that serves SMTP. */
import path from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { BounceParseError, type BounceParseErrorCode, type BounceReport, type ParseLimits, type ParseOptions } from './parse-bounce';
import type { MessageParts } from './message-parts';

export type ParsedBounce = BounceReport & { parts: MessageParts };

interface Request {
  id: number;
  raw: Uint8Array;
  options: ParseOptions;
}

type Reply = { id: number; ok: true; result: ParsedBounce } | { id: number; ok: false; code: BounceParseErrorCode; message: string };

interface Job {
  request: Request;
  resolve: (result: ParsedBounce) => void;
  reject: (error: Error) => void;
}

const role = 'daybreak-bounce-parser';

/**
 * One worker thread, one message at a time (bounces are a trickle; the SMTP thread only waits on a
 * promise). A parse past the time budget ends the worker, is refused with a BounceParseError
 * ('time-budget'), and the next message gets a fresh worker. Messages queue while one is parsed.
 */
export class BounceParserThread {
  private worker?: Worker;
  private current?: Job;
  private timer?: NodeJS.Timeout;
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  /**
   * `startupGraceMs` is added to the budget of each parse: loading the parser into a cold thread
   * is not the message's fault.
   */
  constructor(private readonly limits: ParseLimits, private readonly startupGraceMs = 1000) {}

  parse(raw: Buffer, options: { sentTo?: string[] } = {}): Promise<ParsedBounce> {
    if (this.closed) return Promise.reject(new BounceParseError('parser-failure', 'the bounce parser thread is closed'));
    // The size limit is checked here too, so an oversized message never crosses to the worker.
    if (raw.length > this.limits.maxMessageBytes) {
      return Promise.reject(new BounceParseError('too-large', `message of ${raw.length} bytes is over the ${this.limits.maxMessageBytes}-byte limit for bounces; raise bounces.server.maxMessageBytes if real bounces are this big`));
    }
    return new Promise<ParsedBounce>((resolve, reject) => {
      this.queue.push({ request: { id: this.nextId++, raw: new Uint8Array(raw.buffer, raw.byteOffset, raw.length), options: { ...this.limits, ...options } }, resolve, reject });
      this.pump();
    });
  }

  /** Starts the worker now, so the first message does not wait for the parser to load. */
  warm(): void {
    if (!this.closed) this.worker ??= this.spawn();
  }

  /** Ends the worker; queued and running parses are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const error = new BounceParseError('parser-failure', 'the bounce parser thread was closed');
    for (const job of this.queue.splice(0)) job.reject(error);
    this.finish()?.reject(error);
    const worker = this.worker;
    this.worker = undefined;
    if (worker) await worker.terminate();
  }

  private spawn(): Worker {
    // From TypeScript source (tests, `npx daybreak`) the thread needs tsx registered first.
    const entry = __filename.endsWith('.ts') ? path.join(__dirname, 'parse-worker.dev.js') : __filename;
    const worker = new Worker(entry, { workerData: { role } });
    worker.on('message', (reply: Reply) => {
      const job = this.current;
      if (!job || job.request.id !== reply.id) return;
      this.finish();
      if (reply.ok) job.resolve(reply.result);
      else job.reject(new BounceParseError(reply.code, reply.message));
      this.pump();
    });
    worker.on('error', (error) => this.lose(worker, `the parser thread failed: ${error.message}`));
    worker.on('exit', (code) => this.lose(worker, `the parser thread exited (code ${code})`));
    // An idle parser thread must not keep the process alive.
    worker.unref();
    return worker;
  }

  private lose(worker: Worker, why: string): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.finish()?.reject(new BounceParseError('parser-failure', `${why}; the message is kept for review`));
    this.pump();
  }

  private finish(): Job | undefined {
    const job = this.current;
    this.current = undefined;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    return job;
  }

  private pump(): void {
    if (this.current || this.closed) return;
    const job = this.queue.shift();
    if (!job) return;
    this.worker ??= this.spawn();
    this.current = job;
    const worker = this.worker;
    this.timer = setTimeout(() => {
      if (this.current !== job) return;
      this.worker = undefined;
      this.finish();
      job.reject(new BounceParseError('time-budget', `parsing ran past the ${this.limits.timeBudgetMs} ms budget and was stopped; read this message by hand if it matters (bounces.server.parseTimeBudgetMs)`));
      void worker.terminate().finally(() => this.pump());
    }, this.limits.timeBudgetMs + this.startupGraceMs);
    worker.postMessage(job.request);
  }
}

/** The worker's side: parse each message it is sent and post the result (or the refusal) back. */
function serve(): void {
  // Loaded here, in the worker only: the main thread never needs mailparser for this.
  const { parseBounce } = require('./parse-bounce') as typeof import('./parse-bounce');
  parentPort?.on('message', (request: Request) => {
    const reply = (r: Reply) => parentPort?.postMessage(r);
    parseBounce(Buffer.from(request.raw.buffer, request.raw.byteOffset, request.raw.byteLength), request.options).then(
      (result) => reply({ id: request.id, ok: true, result }),
      (error: unknown) => {
        const known = error instanceof BounceParseError;
        reply({ id: request.id, ok: false, code: known ? error.code : 'parser-failure', message: known ? error.message : `the parser failed: ${(error as Error).message ?? String(error)}; the message is kept for review` });
      },
    );
  });
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === role) serve();
