/**
 * What an SMTP failure at send time means: the classification now lives with the transports
 * (src/mail/transports/failure.ts), which throw it typed; re-exported here for the bounce side.
 */
export { classifySmtpError, type SmtpFailure, type SmtpFailureKind } from '../mail/transports/failure';
