/** Sign-up, the domain side: what a valid request is, and double opt-in (store the request, send the confirmation). */
import crypto from 'node:crypto';
import MailComposer from 'nodemailer/lib/mail-composer';
import type { NewsletterConfig } from '../config/schema';
import { addressOf, publicLink, senderDomain } from '../mail/addresses';
import { preferencesUrl } from '../mail/personalise';
import { confirmationWording, renderConfirmation } from '../render/confirmation-email';
import { foldHeader, mailboxTokens } from '../render/mime-template';
import { emailSchema, subscriberNameSchema } from './email';
import { canonicalTimeZone } from '../core/timezone';
import type { PendingSignup, SignupContext, Subscriber } from './store';
import type { LoadedConfig } from '../config/load';
import type { Clock } from '../core/clock';
import type { Logger } from '../core/logger';
import type { MailTransport } from '../mail/transports';
import type { TokenSigner } from '../mail/tokens';
import type { SubscriberStore } from './store';

export interface SignupDeps {
  subscribers: Pick<SubscriberStore, 'requestSignup'>;
  transport: Pick<MailTransport, 'send'>;
  signer: TokenSigner;
  clock: Clock;
  logger: Logger;
  config: Pick<LoadedConfig, 'newsletters' | 'organisation' | 'publicUrl' | 'web'>;
}

/**
 * Sign-up, the domain side: what a valid request is, and double opt-in (store the request, send
 * the confirmation email). The web routes are thin adapters over this.
 */

/** Field names (`email`, `name`, `newsletters`) are a public interface: other sites embed the form. */
export type SignupFieldErrors = Partial<Record<'email' | 'name' | 'newsletters' | 'timezone' | 'form', string>>;

export interface SignupInput {
  email: string;
  name?: string;
  /** The reader's IANA zone (the form suggests the browser's); absent: the newsletter's. */
  timezone?: string;
  newsletters: string[];
}

/** A time zone field's value: '' for none (the newsletter's), the canonical zone, or undefined when it is not one. */
export function parseTimeZoneField(value: unknown): string | undefined {
  const v = firstValue(value);
  if (v === undefined || v === null || v === '') return '';
  if (typeof v !== 'string') return undefined;
  return canonicalTimeZone(v);
}

/** Newsletters a visitor may choose on the public form. */
export function publicNewsletters(deps: SignupDeps): NewsletterConfig[] {
  return deps.config.newsletters.filter((n) => n.public);
}

/** Form bodies give a string for one ticked box and an array for several; JSON may give either. */
function asList(value: unknown): unknown[] {
  if (value === undefined || value === null || value === '') return [];
  return Array.isArray(value) ? value : [value];
}

function firstValue(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/**
 * Validates a sign-up body (form-encoded or JSON). Returns the clean input, or an error per field
 * in words a visitor understands. Every field has a length limit; unknown newsletter ids and
 * repeated fields are refused rather than guessed at.
 */
export function parseSignup(body: unknown, allowed: readonly NewsletterConfig[]): { ok: true; input: SignupInput } | { ok: false; errors: SignupFieldErrors } {
  const raw = (typeof body === 'object' && body !== null ? body : {}) as Record<string, unknown>;
  const errors: SignupFieldErrors = {};

  const rawEmail = firstValue(raw.email);
  let email = '';
  if (typeof rawEmail !== 'string' || rawEmail.trim() === '') errors.email = 'Enter your email address';
  else if (rawEmail.length > 320) errors.email = 'That email address is too long (254 characters at most)';
  else {
    const parsed = emailSchema.safeParse(rawEmail);
    if (parsed.success) email = parsed.data;
    else errors.email = /too long/.test(parsed.error.issues[0]?.message ?? '') ? 'That email address is too long (254 characters at most)' : 'Enter an email address in the form name@example.com';
  }

  const rawName = firstValue(raw.name);
  let name: string | undefined;
  if (rawName !== undefined && rawName !== null && rawName !== '') {
    if (typeof rawName !== 'string' || rawName.length > 1000) errors.name = 'Your first name must be 100 characters or fewer';
    else {
      const parsed = subscriberNameSchema.safeParse(rawName);
      if (!parsed.success) errors.name = /too long/.test(parsed.error.issues[0]?.message ?? '') ? 'Your first name must be 100 characters or fewer' : 'Your first name can only contain letters, spaces and ordinary punctuation';
      else name = parsed.data || undefined;
    }
  }

  const ids = new Set(allowed.map((n) => n.id));
  const chosen = asList(raw.newsletters);
  const newsletters: string[] = [];
  if (chosen.length > allowed.length * 2) errors.newsletters = 'Choose from the newsletters listed';
  else {
    for (const value of chosen) {
      if (typeof value !== 'string' || !ids.has(value)) {
        errors.newsletters = 'Choose from the newsletters listed';
        break;
      }
      if (!newsletters.includes(value)) newsletters.push(value);
    }
    if (!errors.newsletters && newsletters.length === 0) errors.newsletters = 'Choose at least one newsletter';
  }

  const timezone = parseTimeZoneField(raw.timezone);
  if (timezone === undefined) errors.timezone = 'Choose your time zone from the list, or leave it as the newsletter\'s';

  if (Object.keys(errors).length) return { ok: false, errors };
  return { ok: true, input: { email, ...(name ? { name } : {}), ...(timezone ? { timezone } : {}), newsletters: allowed.filter((n) => newsletters.includes(n.id)).map((n) => n.id) } };
}

export function confirmUrl(deps: SignupDeps, subscriberId: string, nonce: string): string {
  return publicLink(deps.config.publicUrl, `/confirm/${deps.signer.signConfirm(subscriberId, nonce, deps.clock.now())}`);
}

/** The confirmation email's From: web.confirmFrom, else the first newsletter's. */
export function confirmationFrom(deps: { config: Pick<SignupDeps['config'], 'newsletters' | 'web'> }): { from: string; replyTo?: string } {
  const first = deps.config.newsletters[0] as NewsletterConfig;
  return { from: deps.config.web.confirmFrom ?? first.from, replyTo: first.replyTo };
}

/**
 * Builds the confirmation email's bytes: its own template, an HTML and a text part, and the
 * reader's confirm link (or, for a reader who already has everything they asked for, their
 * preferences link: the page never says which, the email to the mailbox owner may).
 */
export async function buildConfirmationMessage(deps: SignupDeps, subscriber: Subscriber, signup: PendingSignup | { kind: 'already'; newsletters: string[]; name?: string }): Promise<{ raw: Buffer; messageId: string; subject: string }> {
  const org = deps.config.organisation;
  const { from, replyTo } = confirmationFrom(deps);
  const domain = senderDomain(from);
  const now = deps.clock.now();
  const chosen = deps.config.newsletters.filter((n) => signup.newsletters.includes(n.id)).map((n) => ({ name: n.name, description: n.description }));
  const name = signup.name ?? subscriber.name;
  const already = signup.kind === 'already';
  const wording = already
    ? {
        subject: `You're already subscribed to ${org.name}`,
        preview: 'Nothing to confirm: you already get these newsletters.',
        heading: "You're already subscribed",
        intro: 'Someone, hopefully you, asked for these newsletters at this address. You already receive them, so there is nothing to confirm:',
        buttonLabel: 'Manage your newsletters',
        greeting: name?.trim() ? `Hello ${name.trim().split(/\s+/)[0]},` : 'Hello,',
      }
    : confirmationWording({ kind: signup.kind, organisation: org.name, name });
  const link = already ? preferencesUrl(deps.config.publicUrl, deps.signer, subscriber.id) : confirmUrl(deps, subscriber.id, (signup as PendingSignup).nonce);
  const rendered = await renderConfirmation({
    ...wording,
    organisation: org.name,
    postalAddress: org.postalAddress,
    email: subscriber.email,
    confirmUrl: link,
    expires: !already,
    newsletters: chosen,
  });
  const messageId = `<confirm.${subscriber.id}.${crypto.randomBytes(6).toString('base64url')}@${domain}>`;
  const composer = new MailComposer({
    from,
    ...(replyTo ? { replyTo } : {}),
    subject: rendered.subject,
    text: rendered.text,
    html: rendered.html,
    messageId,
    date: now,
    headers: { 'Auto-Submitted': 'auto-generated', 'X-Auto-Response-Suppress': 'All' },
    textEncoding: 'quoted-printable',
  });
  // The To: line is ours, not nodemailer's, which passes an ASCII name through as typed: then
  // "=?utf-8?q?...?=" would be decoded by the reader's mail program into whatever it spells.
  const raw = Buffer.concat([Buffer.from(toHeaderLine(subscriber.email, name), 'ascii'), await composer.compile().build()]);
  return { raw, messageId, subject: rendered.subject };
}

/**
 * The `To:` header line (CRLF-terminated) for a reader. The display name is text, encoded by the
 * same rules as an edition's per-reader To: (atoms, a quoted-string, or RFC 2047 encoded-words
 * whenever the name is not plain ASCII or contains "=?"), folded within 78 characters a line.
 */
export function toHeaderLine(email: string, name?: string): string {
  return foldHeader('To', mailboxTokens({ email, name: name?.trim() || undefined }, 'to'));
}

export async function sendConfirmation(deps: SignupDeps, subscriber: Subscriber, signup: PendingSignup | { kind: 'already'; newsletters: string[]; name?: string }): Promise<void> {
  const { raw, messageId } = await buildConfirmationMessage(deps, subscriber, signup);
  const { from } = confirmationFrom(deps);
  const envelopeFrom = addressOf(from);
  try {
    await deps.transport.send({ envelopeFrom, to: subscriber.email, raw, messageId, editionId: 'confirmations', subscriberId: subscriber.id });
  } catch (error) {
    throw new Error(`Could not send the confirmation email to subscriber ${subscriber.id}: ${(error as Error).message}`, { cause: error });
  }
  deps.logger.info({ subscriberId: subscriber.id, kind: signup.kind, messageId }, 'confirmation email sent');
}

export type SignupOutcome = 'sent' | 'already-subscribed' | 'suppressed';

/** Per process: past this many sign-ups still finishing, the form answers "busy" to everyone alike. */
const MAX_BACKGROUND_SIGNUPS = 200;
const backgroundSignups = new WeakMap<SignupDeps, Set<Promise<void>>>();

/**
 * Double opt-in, step one, answered first: the caller replies straight away, in the same words
 * for every address, and the store and the email happen after this returns (on a later turn of
 * the event loop). So the reply cannot say, nor take longer to say, whether the address is new,
 * pending, confirmed, suppressed or erased: one path, the same work before the answer. Failures
 * are logged. Returns false, starting nothing, only when too many are still in flight (a matter
 * of load, never of the address).
 */
export function startSignup(deps: SignupDeps, input: SignupInput, context: SignupContext): boolean {
  let running = backgroundSignups.get(deps);
  if (!running) {
    running = new Set();
    backgroundSignups.set(deps, running);
  }
  if (running.size >= MAX_BACKGROUND_SIGNUPS) return false;
  const inFlight = running;
  const work: Promise<void> = new Promise<void>((resolve) => setImmediate(resolve))
    .then(() => requestSignup(deps, input, context))
    .then(
      () => undefined,
      (error: unknown) => deps.logger.error({ err: error, form: context.form }, 'sign-up failed after its answer was sent (the visitor can sign up again)'),
    )
    .finally(() => inFlight.delete(work));
  inFlight.add(work);
  return true;
}

/** Waits for every sign-up still finishing in the background (server shutdown, tests). */
export async function settleSignups(deps: SignupDeps): Promise<void> {
  const running = backgroundSignups.get(deps);
  while (running && running.size > 0) await Promise.all([...running]);
}

/**
 * Double opt-in, step one, end to end: store the request and email the link. The caller answers
 * every outcome with the same "check your inbox", so the page never says whether the address was
 * known. A suppressed address gets nothing: no record, no email.
 */
export async function requestSignup(deps: SignupDeps, input: SignupInput, context: SignupContext): Promise<SignupOutcome> {
  const result = await deps.subscribers.requestSignup({ ...input, context, now: deps.clock.now() });
  if (result.outcome === 'suppressed') {
    deps.logger.info({ form: context.form }, 'sign-up for a suppressed address: nothing stored or sent');
    return 'suppressed';
  }
  if (result.outcome === 'already-subscribed') {
    await sendConfirmation(deps, result.subscriber, { kind: 'already', newsletters: input.newsletters, name: input.name });
    return 'already-subscribed';
  }
  await sendConfirmation(deps, result.subscriber, result.signup);
  return 'sent';
}
