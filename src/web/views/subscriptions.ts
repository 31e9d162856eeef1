/** The HTML of the subscription pages (sign-up, confirm, preferences, unsubscribe, errors). */
import type { NewsletterConfig } from '../../config/schema';
import { escapeHtml } from '../../render/slots';
import type { SignupFieldErrors } from '../../subscribers/signup';
import { FORM_TOKEN_FIELD, HONEYPOT_FIELD } from '../security';
import { timeZoneNames } from '../../core/timezone';

/**
 * The subscriber pages' bodies: pure functions from values to escaped HTML (the shell is
 * page.ts). Every value that came from a visitor or the store goes through escapeHtml.
 */

export interface View {
  title: string;
  body: string;
  /** The form came back with errors: the tab title says so first (screen readers hear it). */
  hasErrors?: boolean;
  /** The nonce of the page's one inline script (the time zone suggestion): the CSP allows it and nothing else. */
  scriptNonce?: string;
}

const e = escapeHtml;

function errorSummary(errors: Partial<Record<string, string>>, order: string[], anchors: Record<string, string>): string {
  const items = order.filter((k) => errors[k]).map((k) => `<li><a href="#${anchors[k] ?? k}">${e(errors[k] as string)}</a></li>`);
  if (!items.length) return '';
  return `<div class="error-summary" role="alert" aria-labelledby="error-summary-title" tabindex="-1" autofocus>
<h2 id="error-summary-title">There is a problem</h2>
<ul>${items.join('')}</ul>
</div>
`;
}

function newsletterChoices(newsletters: readonly NewsletterConfig[], chosen: readonly string[], name = 'newsletters'): string {
  // In two columns, an odd count lets the first (the main edition) take a whole row.
  const widenFirst = newsletters.length > 3 && newsletters.length % 2 === 1;
  return newsletters
    .map((n, i) => {
      const id = `nl-${n.id}`;
      return `<label class="choice${widenFirst && i === 0 ? ' wide' : ''}" for="${e(id)}"><input type="checkbox" id="${e(id)}" name="${e(name)}" value="${e(n.id)}"${chosen.includes(n.id) ? ' checked' : ''}><span><strong>${e(n.name)}</strong>${n.description ? `<span>${e(n.description)}</span>` : ''}</span></label>`;
    })
    .join('\n');
}

export interface SignupFormValues {
  email: string;
  name: string;
  newsletters: string[];
  /** '' for the newsletter's own. */
  timezone?: string;
}

/** "America/Argentina/Buenos_Aires" -> "Argentina / Buenos Aires" (the region is the option group). */
function zoneLabel(zone: string): string {
  const slash = zone.indexOf('/');
  return (slash < 0 ? zone : zone.slice(slash + 1)).replace(/_/g, ' ').replace(/\//g, ' / ');
}

let zoneOptionsHtml: string | undefined;

/** Every zone as <option>s grouped by region (built once: ~400 zones, the same on every page). */
function zoneOptions(): string {
  if (!zoneOptionsHtml) {
    const groups = new Map<string, string[]>();
    for (const zone of timeZoneNames()) {
      const slash = zone.indexOf('/');
      const region = slash < 0 ? 'Other' : zone.slice(0, slash);
      groups.set(region, [...(groups.get(region) ?? []), zone]);
    }
    zoneOptionsHtml = [...groups].map(([region, zones]) => `<optgroup label="${e(region)}">${zones.map((z) => `<option value="${e(z)}">${e(zoneLabel(z))}</option>`).join('')}</optgroup>`).join('\n');
  }
  return zoneOptionsHtml;
}

/**
 * The time zone choice, for newsletters sent at their morning time in each reader's zone. A plain
 * select list (it works without scripts); the one inline script, allowed by its nonce, suggests
 * the browser's own zone when none is chosen yet.
 */
function timeZoneField(input: { selected: string; error?: string; scriptNonce: string }): string {
  const selected = input.selected;
  const options = selected ? zoneOptions().replace(`<option value="${e(selected)}">`, `<option value="${e(selected)}" selected>`) : zoneOptions();
  const err = input.error ? `<p class="field-error" id="timezone-error"><span class="skip">Error:</span> ${e(input.error)}</p>` : '';
  return `<div class="field${input.error ? ' invalid' : ''}">
<label for="timezone">Your time zone <span class="hint" id="timezone-hint">So the morning email arrives in your morning. Your browser's zone is suggested; leave it on the newsletter's to get it at the newsletter's time.</span></label>
${err}<select id="timezone" name="timezone" aria-describedby="timezone-hint${input.error ? ' timezone-error' : ''}"${input.error ? ' aria-invalid="true"' : ''}>
<option value=""${selected ? '' : ' selected'}>The newsletter's time zone</option>
${options}
</select>
</div>
<script nonce="${e(input.scriptNonce)}">(function(){var s=document.getElementById('timezone');if(!s||s.value)return;try{var z=Intl.DateTimeFormat().resolvedOptions().timeZone;for(var i=0;i<s.options.length;i++){if(s.options[i].value===z){s.selectedIndex=i;break;}}}catch(x){}})();</script>
`;
}

export function signupView(input: {
  organisation: string;
  newsletters: readonly NewsletterConfig[];
  values: SignupFormValues;
  errors?: SignupFieldErrors;
  formToken: string;
  consentText: string;
  notice?: string;
  /** Some newsletter on offer is sent in readers' own zones: the form asks for one (with this script nonce). */
  timeZones?: { scriptNonce: string };
}): View {
  const errors = input.errors ?? {};
  const has = Object.keys(errors).length > 0;
  const fieldClass = (k: keyof SignupFieldErrors) => (errors[k] ? 'field invalid' : 'field');
  const fieldError = (k: keyof SignupFieldErrors) => (errors[k] ? `<p class="field-error" id="${k}-error"><span class="skip">Error:</span> ${e(errors[k] as string)}</p>` : '');
  const describedBy = (k: keyof SignupFieldErrors, hint?: string) => {
    const ids = [hint, errors[k] ? `${k}-error` : undefined].filter(Boolean);
    return ids.length ? ` aria-describedby="${ids.join(' ')}"` : '';
  };
  const many = input.newsletters.length > 3;
  const body = `${errorSummary(errors, ['form', 'email', 'name', 'timezone', 'newsletters'], { form: 'email', newsletters: `nl-${input.newsletters[0]?.id ?? ''}` })}${input.notice ? `<p class="notice" role="status">${e(input.notice)}</p>\n` : ''}<p class="lead">The morning's business news, free in your inbox. Choose the editions you want.</p>
<form method="post" action="/subscribe" novalidate>
<input type="hidden" name="${FORM_TOKEN_FIELD}" value="${e(input.formToken)}">
<div class="${fieldClass('email')}">
<label for="email">Email address</label>
${fieldError('email')}<input type="email" id="email" name="email" value="${e(input.values.email)}" autocomplete="email" inputmode="email" spellcheck="false" maxlength="254" required${errors.email ? ' aria-invalid="true"' : ''}${describedBy('email')}>
</div>
<div class="${fieldClass('name')}">
<label for="name">First name <span class="hint" id="name-hint">Optional: we use it to say good morning.</span></label>
${fieldError('name')}<input type="text" id="name" name="name" value="${e(input.values.name)}" autocomplete="given-name" maxlength="100"${errors.name ? ' aria-invalid="true"' : ''}${describedBy('name', 'name-hint')}>
</div>
<fieldset class="${fieldClass('newsletters')}"${errors.newsletters ? ' aria-describedby="newsletters-error"' : ''}>
<legend>Newsletters</legend>
${fieldError('newsletters')}<div class="choices${many ? ' two' : ''}">
${newsletterChoices(input.newsletters, input.values.newsletters)}
</div>
</fieldset>
${input.timeZones ? timeZoneField({ selected: input.values.timezone ?? '', error: errors.timezone, scriptNonce: input.timeZones.scriptNonce }) : ''}<div class="hp" aria-hidden="true"><label for="${HONEYPOT_FIELD}">Leave this field empty</label><input type="text" id="${HONEYPOT_FIELD}" name="${HONEYPOT_FIELD}" value="" tabindex="-1" autocomplete="off"></div>
<p class="consent">${e(input.consentText)}</p>
<button type="submit" class="wide">Sign up for free</button>
</form>
<p class="muted" style="margin-top:1.5rem">We will email you a link to confirm. Nothing is sent until you click it.</p>
`;
  return { title: 'Sign up for our newsletters', body, hasErrors: has, scriptNonce: input.timeZones?.scriptNonce };
}

export function checkInboxView(email: string): View {
  return {
    title: 'Check your inbox',
    body: `<p role="status">We have sent an email to <span class="email">${e(email)}</span>. Click the link in it to confirm your subscription.</p>
<p>The link works for 7 days. Nothing arrives? Check your spam or junk folder. You can also <a href="/subscribe">sign up again</a> to get a new link.</p>
`,
  };
}

export function confirmedView(input: { names: string[]; preferencesUrl: string; kind: string }): View {
  const list = input.names.length ? `<ul>${input.names.map((n) => `<li>${e(n)}</li>`).join('')}</ul>` : '';
  const title = input.kind === 'resubscribe' ? 'Welcome back' : "You're subscribed";
  return {
    title,
    body: `<p class="notice" role="status">Thank you: your subscription is confirmed.</p>
<p>You will receive${input.names.length ? ':' : ' our newsletters.'}</p>
${list}
<p>Your first edition arrives with the next morning's send. Every email has a one-click unsubscribe link.</p>
<p><a href="${e(input.preferencesUrl)}">Change your newsletters or your name</a></p>
`,
  };
}

export function confirmUsedView(input: { preferencesUrl?: string }): View {
  return {
    title: 'This link has already been used',
    body: input.preferencesUrl
      ? `<p>Your subscription is already confirmed: there is nothing more to do.</p>
<p><a href="${e(input.preferencesUrl)}">Change your newsletters or your name</a></p>
`
      : `<p>This confirmation link has already been used, or a newer one replaced it.</p>
<p>If you still want our newsletters, <a href="/subscribe">sign up again</a> and use the link in the newest email.</p>
`,
  };
}

export function confirmExpiredView(input: { action: string; formToken: string }): View {
  return {
    title: 'This link has expired',
    body: `<p>Confirmation links work for 7 days, and this one is older. We can send you a new one.</p>
<form method="post" action="${e(input.action)}">
<input type="hidden" name="${FORM_TOKEN_FIELD}" value="${e(input.formToken)}">
<button type="submit">Send me a new link</button>
</form>
`,
  };
}

export function newLinkSentView(): View {
  return {
    title: 'Check your inbox',
    body: `<p role="status">We have sent you a new confirmation email. Click the link in it within 7 days.</p>
`,
  };
}

export function signupGoneView(): View {
  return {
    title: 'Please sign up again',
    body: `<p>This sign-up is too old to confirm. <a href="/subscribe">Sign up again</a> and we will send you a fresh link.</p>
`,
  };
}

export function invalidLinkView(kind: 'confirm' | 'unsubscribe' | 'preferences'): View {
  const what = kind === 'confirm' ? 'confirmation' : kind === 'unsubscribe' ? 'unsubscribe' : 'preferences';
  return {
    title: 'Link not recognised',
    body: `<p>This ${what} link is not valid. It may have been cut short when it was copied: try clicking it in the email again, or copy the whole link.</p>
${kind === 'confirm' ? '<p>You can also <a href="/subscribe">sign up again</a> to get a new link.</p>' : '<p>Use the link in your latest email, or reply to that email and we will sort it out for you.</p>'}
`,
  };
}

export function noSubscriptionView(): View {
  return {
    title: 'No subscription found',
    body: `<p>We hold no subscription for this link: the address has been removed from our records.</p>
<p>You can <a href="/subscribe">sign up again</a> at any time.</p>
`,
  };
}

export function suppressedView(): View {
  return {
    title: 'We cannot send to this address',
    body: `<p>Email to this address is blocked on our side (for example after messages bounced, or at your request), so we cannot subscribe it.</p>
<p>If you think this is a mistake, reply to any of our emails and we will look into it.</p>
`,
  };
}

export function unsubscribeView(input: { email: string; action: string; preferencesUrl: string; already: boolean }): View {
  if (input.already) {
    return {
      title: "You're unsubscribed",
      body: `<p><span class="email">${e(input.email)}</span> is not subscribed to any of our newsletters.</p>
<p>Changed your mind? <a href="${e(input.preferencesUrl)}">Choose newsletters again</a>.</p>
`,
    };
  }
  return {
    title: 'Unsubscribe',
    body: `<p>Stop all of our newsletters to <span class="email">${e(input.email)}</span>?</p>
<form method="post" action="${e(input.action)}">
<input type="hidden" name="List-Unsubscribe" value="One-Click">
<div class="actions"><button type="submit">Unsubscribe from all</button></div>
</form>
<h2>Or keep some of them</h2>
<p>You can <a href="${e(input.preferencesUrl)}">change your preferences instead</a>: pick only the editions you want, or change the name we greet you by.</p>
`,
  };
}

export function unsubscribedView(input: { preferencesUrl?: string }): View {
  return {
    title: "You're unsubscribed",
    body: `<p class="notice" role="status">Done: you will get no more newsletters from us at this address.</p>
${input.preferencesUrl ? `<p>Unsubscribed by mistake? <a href="${e(input.preferencesUrl)}">Choose newsletters again</a>.</p>` : '<p>Changed your mind? You can <a href="/subscribe">sign up again</a> at any time.</p>'}
`,
  };
}

export function preferencesView(input: {
  email: string;
  name: string;
  status: string;
  newsletters: readonly NewsletterConfig[];
  chosen: string[];
  action: string;
  formToken: string;
  errors?: { name?: string; newsletters?: string; timezone?: string; form?: string };
  notice?: string;
  suppressed: boolean;
  /** Some newsletter on offer is sent in readers' own zones: the reader's zone ('' for none), and the script nonce. */
  timeZone?: { selected: string; scriptNonce: string };
}): View {
  const errors = input.errors ?? {};
  const nameErr = errors.name ? `<p class="field-error" id="name-error"><span class="skip">Error:</span> ${e(errors.name)}</p>` : '';
  const nlErr = errors.newsletters ? `<p class="field-error" id="newsletters-error"><span class="skip">Error:</span> ${e(errors.newsletters)}</p>` : '';
  const statusLine = input.status === 'unsubscribed'
    ? '<p>You are not receiving any of our newsletters. Tick the ones you want and save to start again.</p>'
    : input.status === 'pending'
      ? '<p>Your subscription is waiting for you to click the link in our confirmation email.</p>'
      : '';
  const body = `${errorSummary(errors, ['form', 'name', 'timezone', 'newsletters'], { form: 'name', newsletters: `nl-${input.newsletters[0]?.id ?? ''}` })}${input.notice ? `<p class="notice" role="status">${e(input.notice)}</p>\n` : ''}<p>Newsletters for <span class="email">${e(input.email)}</span>.</p>
${statusLine}${input.suppressed ? '<p class="field-error">Email to this address is currently blocked on our side (for example after messages bounced), so nothing will be sent.</p>\n' : ''}<form method="post" action="${e(input.action)}" novalidate>
<input type="hidden" name="${FORM_TOKEN_FIELD}" value="${e(input.formToken)}">
<div class="field${errors.name ? ' invalid' : ''}">
<label for="name">First name <span class="hint" id="name-hint">Optional: we use it to say good morning.</span></label>
${nameErr}<input type="text" id="name" name="name" value="${e(input.name)}" autocomplete="given-name" maxlength="100" aria-describedby="name-hint${errors.name ? ' name-error' : ''}"${errors.name ? ' aria-invalid="true"' : ''}>
</div>
<fieldset class="field${errors.newsletters ? ' invalid' : ''}"${errors.newsletters ? ' aria-describedby="newsletters-error"' : ''}>
<legend>Newsletters</legend>
${nlErr}<div class="choices${input.newsletters.length > 3 ? ' two' : ''}">
${newsletterChoices(input.newsletters, input.chosen)}
</div>
</fieldset>
${input.timeZone ? timeZoneField({ selected: input.timeZone.selected, error: errors.timezone, scriptNonce: input.timeZone.scriptNonce }) : ''}<div class="actions">
<button type="submit" name="action" value="save">Save my choices</button>
<button type="submit" name="action" value="unsubscribe" class="secondary">Unsubscribe from all</button>
</div>
</form>
`;
  return { title: 'Your newsletters', body, hasErrors: Object.keys(errors).length > 0, scriptNonce: input.timeZone?.scriptNonce };
}

export function tooManyView(input: { retryAfterSeconds: number; scope: 'ip' | 'email' }): View {
  const minutes = Math.max(1, Math.ceil(input.retryAfterSeconds / 60));
  const wait = minutes >= 60 ? `${Math.ceil(minutes / 60)} hour${minutes > 60 ? 's' : ''}` : `${minutes} minute${minutes === 1 ? '' : 's'}`;
  return {
    title: 'Too many requests',
    body: input.scope === 'email'
      ? `<p>We have already sent several confirmation emails to this address in the last hour. Please check your inbox and your spam or junk folder for the newest one.</p>
<p>You can ask again in about ${e(wait)}.</p>
`
      : `<p>We have had a lot of requests from your network in a short time, so we have paused this for a while.</p>
<p>Please try again in about ${e(wait)}. Nothing you typed has been lost on our side, because nothing was stored.</p>
`,
  };
}

export function forbiddenView(reason: 'foreign-origin' | 'missing-token' | 'invalid-token'): View {
  return {
    title: 'Form not accepted',
    body: reason === 'foreign-origin'
      ? `<p>This form was sent from another website that is not allowed to sign people up here, so we have ignored it.</p>
<p>To subscribe, use <a href="/subscribe">our sign-up page</a>.</p>
`
      : `<p>We could not accept this form: it did not come from our sign-up page, or it was changed on the way.</p>
<p>Please use <a href="/subscribe">our sign-up page</a>.</p>
`,
  };
}
