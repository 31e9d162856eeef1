/** Email addresses and names as readers type them: normalised, validated, no header injection. */
import { z } from 'zod';

/** Addresses are compared case-insensitively: the whole address is lower-cased once, here. */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Syntax check that also refuses header-injection tricks (CR/LF, commas, angle brackets). */
export const emailSchema = z
  .string()
  .trim()
  .max(254, 'is too long (254 characters at most)')
  .refine((v) => !/[\r\n<>,;"\s]/.test(v), 'contains characters an address cannot have')
  .pipe(z.email('is not a valid email address'));

export const subscriberNameSchema = z
  .string()
  .trim()
  .max(100, 'is too long (100 characters at most)')
  .refine((v) => !/[\r\n\u0000-\u001f\u007f<>]/.test(v), 'contains characters a name cannot have');
