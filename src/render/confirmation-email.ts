/** The sign-up confirmation email: MJML and text templates, rendered once and filled per reader. */
import { helloGreeting, transactionalEmail, type RenderedTransactional, type TransactionalView } from './transactional-email';

export const CONFIRM_HTML_TEMPLATE = 'confirm.mjml.hbs';
export const CONFIRM_TEXT_TEMPLATE = 'confirm.txt.hbs';

export interface ConfirmationView extends TransactionalView {
  buttonLabel: string;
  confirmUrl: string;
  /** Show the "works for 7 days" line (a confirm link; not a preferences link). */
  expires: boolean;
  newsletters: Array<{ name: string; description: string }>;
}

export type RenderedConfirmation = RenderedTransactional;

/** The email for one reader (templates compiled once per process). */
export const renderConfirmation = transactionalEmail<ConfirmationView>(CONFIRM_HTML_TEMPLATE, CONFIRM_TEXT_TEMPLATE);

/** What the email says, by the kind of sign-up: a new reader, a reader adding newsletters, one coming back. */
export function confirmationWording(input: {
  kind: 'new' | 'again' | 'change' | 'resubscribe';
  organisation: string;
  name?: string;
}): Pick<ConfirmationView, 'subject' | 'preview' | 'heading' | 'intro' | 'buttonLabel' | 'greeting'> {
  const greeting = helloGreeting(input.name);
  switch (input.kind) {
    case 'change':
      return {
        subject: `Confirm your ${input.organisation} newsletter choice`,
        preview: 'One click to add the newsletters you asked for.',
        heading: 'Confirm your newsletters',
        intro: 'Someone, hopefully you, asked for these newsletters at this address. Confirm and they will be added to what you already receive:',
        buttonLabel: 'Yes, add these newsletters',
        greeting,
      };
    case 'resubscribe':
      return {
        subject: `Confirm you want ${input.organisation} again`,
        preview: 'One click and the morning emails start again.',
        heading: 'Welcome back',
        intro: 'Someone, hopefully you, asked to start receiving these newsletters again at this address:',
        buttonLabel: 'Yes, subscribe me again',
        greeting,
      };
    default:
      return {
        subject: `Confirm your subscription to ${input.organisation}`,
        preview: 'One click and your first morning email is on its way.',
        heading: 'Confirm your subscription',
        intro: 'Thanks for signing up. Please confirm that you want to receive:',
        buttonLabel: 'Yes, subscribe me',
        greeting,
      };
  }
}
