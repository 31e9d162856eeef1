/** The sign-up confirmation email: MJML and text templates, rendered once and filled per reader. */
import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import mjml2html from 'mjml';
import { templatesDir } from './render-edition';

/**
 * The double opt-in email. MJML is compiled once per process with the Handlebars expressions left
 * in (see templates/confirm.mjml.hbs); each email is then only a Handlebars fill, well under a
 * millisecond, so a burst of sign-ups does not cost an MJML compile each.
 */

export const CONFIRM_HTML_TEMPLATE = 'confirm.mjml.hbs';
export const CONFIRM_TEXT_TEMPLATE = 'confirm.txt.hbs';

export interface ConfirmationView {
  subject: string;
  preview: string;
  organisation: string;
  postalAddress: string;
  email: string;
  greeting: string;
  heading: string;
  intro: string;
  buttonLabel: string;
  confirmUrl: string;
  /** Show the "works for 7 days" line (a confirm link; not a preferences link). */
  expires: boolean;
  newsletters: Array<{ name: string; description: string }>;
}

export interface RenderedConfirmation {
  subject: string;
  html: string;
  text: string;
}

interface Compiled {
  html: Handlebars.TemplateDelegate<ConfirmationView>;
  text: Handlebars.TemplateDelegate<ConfirmationView>;
}

const hbs = Handlebars.create();
let compiled: Promise<Compiled> | undefined;

async function compile(): Promise<Compiled> {
  const dir = templatesDir();
  const source = fs.readFileSync(path.join(dir, CONFIRM_HTML_TEMPLATE), 'utf8');
  // Handlebars comments go first: MJML would keep them as text.
  const withoutComments = source.replace(/\{\{!--[\s\S]*?--\}\}/g, '');
  const result = await mjml2html(withoutComments, { validationLevel: 'strict', keepComments: false, fonts: {} });
  const textSource = fs.readFileSync(path.join(dir, CONFIRM_TEXT_TEMPLATE), 'utf8');
  return {
    html: hbs.compile<ConfirmationView>(result.html, { strict: true }),
    // Plain text: nothing to escape, and "&" must stay "&".
    text: hbs.compile<ConfirmationView>(textSource, { strict: true, noEscape: true }),
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

export async function renderConfirmation(view: ConfirmationView): Promise<RenderedConfirmation> {
  const t = await templates();
  return { subject: view.subject, html: t.html(view), text: t.text(view).replace(/\n{3,}/g, '\n\n') };
}

/** What the email says, by the kind of sign-up: a new reader, a reader adding newsletters, one coming back. */
export function confirmationWording(input: {
  kind: 'new' | 'again' | 'change' | 'resubscribe';
  organisation: string;
  name?: string;
}): Pick<ConfirmationView, 'subject' | 'preview' | 'heading' | 'intro' | 'buttonLabel' | 'greeting'> {
  const first = input.name?.trim().split(/\s+/)[0];
  const greeting = first ? `Hello ${first},` : 'Hello,';
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
