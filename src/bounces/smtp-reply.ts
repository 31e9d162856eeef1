/** The bounce side's name for SMTP failure classification, which lives with the transports now. */
/**
 * What an SMTP failure at send time means: the classification now lives with the transports
 * (src/mail/transports/failure.ts), which throw it typed; re-exported here for the bounce side.
 */
export { classifySmtpError, type SmtpFailure, type SmtpFailureKind } from '../mail/transports/failure';
