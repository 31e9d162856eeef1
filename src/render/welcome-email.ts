/** The welcome email: MJML and text templates, compiled once per process and filled per reader. */
import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import mjml2html from 'mjml';
import { templatesDir } from './render-edition';

export const WELCOME_HTML_TEMPLATE = 'welcome.mjml.hbs';
export const WELCOME_TEXT_TEMPLATE = 'welcome.txt.hbs';

export interface WelcomeView {
  subject: string;
  preview: string;
  organisation: string;
  postalAddress: string;
  email: string;
  greeting: string;
  heading: string;
  intro: string;
  /** What they signed up for, each with when its first edition arrives (in its own time zone). */
  newsletters: Array<{ name: string; description: string; firstEdition: string }>;
  fromAddress: string;
  preferencesUrl: string;
  unsubscribeUrl: string;
  archiveUrl: string;
}

export interface RenderedWelcome {
  subject: string;
  html: string;
  text: string;
}

interface Compiled {
  html: Handlebars.TemplateDelegate<WelcomeView>;
  text: Handlebars.TemplateDelegate<WelcomeView>;
}

const hbs = Handlebars.create();
let compiled: Promise<Compiled> | undefined;

/** MJML once per process with the Handlebars expressions left in; each email is then a fill. */
async function compile(): Promise<Compiled> {
  const dir = templatesDir();
  const source = fs.readFileSync(path.join(dir, WELCOME_HTML_TEMPLATE), 'utf8');
  // Handlebars comments go first: MJML would keep them as text.
  const withoutComments = source.replace(/\{\{!--[\s\S]*?--\}\}/g, '');
  const result = await mjml2html(withoutComments, { validationLevel: 'strict', keepComments: false, fonts: {} });
  const textSource = fs.readFileSync(path.join(dir, WELCOME_TEXT_TEMPLATE), 'utf8');
  return {
    html: hbs.compile<WelcomeView>(result.html, { strict: true }),
    // Plain text: nothing to escape.
    text: hbs.compile<WelcomeView>(textSource, { strict: true, noEscape: true }),
  };
}

function templates(): Promise<Compiled> {
  if (!compiled) {
    compiled = compile();
    compiled.catch(() => {
      compiled = undefined;
    });
  }
  return compiled;
}

export async function renderWelcome(view: WelcomeView): Promise<RenderedWelcome> {
  const t = await templates();
  return { subject: view.subject, html: t.html(view), text: t.text(view).replace(/\n{3,}/g, '\n\n') };
}

/** What the email says, by the kind of sign-up confirmed: a new reader, one adding newsletters, one coming back. */
export function welcomeWording(input: { kind: 'new' | 'again' | 'change' | 'resubscribe'; organisation: string; name?: string; count: number }): Pick<WelcomeView, 'subject' | 'preview' | 'heading' | 'intro' | 'greeting'> {
  const first = input.name?.trim().split(/\s+/)[0];
  const greeting = first ? `Hello ${first},` : 'Hello,';
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
