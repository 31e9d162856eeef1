/** One-off emails to one reader (confirmation, welcome): MJML compiled once per process, then a Handlebars fill per email. */
import fs from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import mjml2html from 'mjml';
import { templatesDir } from './render-edition';

/** What every one-off email's template shows: its head, the greeting, and the footer's sender and address. */
export interface TransactionalView {
  subject: string;
  preview: string;
  organisation: string;
  postalAddress: string;
  email: string;
  greeting: string;
  heading: string;
  intro: string;
}

export interface RenderedTransactional {
  subject: string;
  html: string;
  text: string;
}

interface Compiled<View> {
  html: Handlebars.TemplateDelegate<View>;
  text: Handlebars.TemplateDelegate<View>;
}

/**
 * A renderer for one pair of templates. MJML is compiled on first use with the Handlebars
 * expressions left in, so each email is only a fill (well under a millisecond): a burst of
 * sign-ups does not cost an MJML compile each. A failed compile is retried on the next call.
 */
export function transactionalEmail<View extends TransactionalView>(htmlTemplate: string, textTemplate: string): (view: View) => Promise<RenderedTransactional> {
  const hbs = Handlebars.create();
  let compiled: Promise<Compiled<View>> | undefined;
  const compile = async (): Promise<Compiled<View>> => {
    const dir = templatesDir();
    const source = fs.readFileSync(path.join(dir, htmlTemplate), 'utf8');
    // Handlebars comments go first: MJML would keep them as text.
    const withoutComments = source.replace(/\{\{!--[\s\S]*?--\}\}/g, '');
    const result = await mjml2html(withoutComments, { validationLevel: 'strict', keepComments: false, fonts: {} });
    const textSource = fs.readFileSync(path.join(dir, textTemplate), 'utf8');
    return {
      html: hbs.compile<View>(result.html, { strict: true }),
      // Plain text: nothing to escape, and "&" must stay "&".
      text: hbs.compile<View>(textSource, { strict: true, noEscape: true }),
    };
  };
  return async (view) => {
    if (!compiled) {
      compiled = compile();
      compiled.catch(() => {
        compiled = undefined;
      });
    }
    const t = await compiled;
    return { subject: view.subject, html: t.html(view), text: t.text(view).replace(/\n{3,}/g, '\n\n') };
  };
}

/** A one-off email's greeting: the reader's first name when they gave one. */
export function helloGreeting(name: string | undefined): string {
  const first = name?.trim().split(/\s+/)[0];
  return first ? `Hello ${first},` : 'Hello,';
}
