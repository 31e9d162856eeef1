/** Mailboxes as configs and reports write them (`Name <a@b>` or `a@b`): the one place that takes them apart. */

/** The bare address inside a mailbox like `Daybreak National <national@daybreak.example>`, or the value itself. */
export function addressOf(mailbox: string): string {
  const m = /<([^<>]+)>\s*$/.exec(mailbox) ?? /<([^<>]+@[^<>]+)>/.exec(mailbox);
  return (m ? (m[1] as string) : mailbox).trim();
}

/** The domain of a mailbox's address ('' when it has none). */
export function domainOf(mailbox: string): string {
  const address = addressOf(mailbox);
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1);
}

/** Domain for Message-IDs and List-Id: the From address's domain. */
export function senderDomain(from: string): string {
  return domainOf(from) || 'daybreak.invalid';
}

/** A link on the public web server: `publicUrl` with or without its trailing slash, joined to a path. */
export function publicLink(publicUrl: string, pathname: string): string {
  return `${publicUrl.replace(/\/$/, '')}${pathname.startsWith('/') ? '' : '/'}${pathname}`;
}
