/** The welcome email: MJML and text templates, compiled once per process and filled per reader. */
import { helloGreeting, transactionalEmail, type RenderedTransactional, type TransactionalView } from './transactional-email';

export const WELCOME_HTML_TEMPLATE = 'welcome.mjml.hbs';
export const WELCOME_TEXT_TEMPLATE = 'welcome.txt.hbs';

export interface WelcomeView extends TransactionalView {
  /** What they signed up for, each with when its first edition arrives (in its own time zone). */
  newsletters: Array<{ name: string; description: string; firstEdition: string }>;
  fromAddress: string;
  preferencesUrl: string;
  unsubscribeUrl: string;
  archiveUrl: string;
}

export type RenderedWelcome = RenderedTransactional;

/** The email for one reader (templates compiled once per process). */
export const renderWelcome = transactionalEmail<WelcomeView>(WELCOME_HTML_TEMPLATE, WELCOME_TEXT_TEMPLATE);

/** What the email says, by the kind of sign-up confirmed: a new reader, one adding newsletters, one coming back. */
export function welcomeWording(input: { kind: 'new' | 'again' | 'change' | 'resubscribe'; organisation: string; name?: string; count: number }): Pick<WelcomeView, 'subject' | 'preview' | 'heading' | 'intro' | 'greeting'> {
  const greeting = helloGreeting(input.name);
  const them = input.count === 1 ? 'it' : 'each';
  switch (input.kind) {
    case 'change':
      return {
        subject: `Your new ${input.organisation} newsletters`,
        preview: 'What you added, and when the first one arrives.',
        heading: 'Your new newsletters',
        intro: `You added the newsletter${input.count === 1 ? '' : 's'} below to what you already get. Here is when ${them} first arrives:`,
        greeting,
      };
    case 'resubscribe':
      return {
        subject: `Welcome back to ${input.organisation}`,
        preview: 'Your morning emails start again: here is when.',
        heading: 'Welcome back',
        intro: `You are subscribed again. Here is what you will get, and when ${them} first arrives:`,
        greeting,
      };
    default:
      return {
        subject: `Welcome to ${input.organisation}`,
        preview: 'What you signed up for, and when your first edition arrives.',
        heading: `Welcome to ${input.organisation}`,
        intro: `Thanks for confirming: you are subscribed. Here is what you will get, and when ${them} first arrives:`,
        greeting,
      };
  }
}
