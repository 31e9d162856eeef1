/** Domain for Message-IDs and List-Id: the From address's domain. */
export function senderDomain(from: string): string {
  const match = /@([^>\s]+)>?\s*$/.exec(from);
  return match?.[1] ?? 'daybreak.invalid';
}
