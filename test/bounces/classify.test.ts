import { classifyReason, isHardReason, smtpCommandOf } from '../../src/bounces/reason';
import { classifySmtpError } from '../../src/bounces/smtp-reply';
import { findReplyCode, findStatus } from '../../src/mail/status-codes';
import { findVerpTargets, parseVerpAddress, verpAddress } from '../../src/mail/verp';
import { envelopeSender } from '../../src/mail/envelope';
import { testConfig, uniquePrefix } from '../helpers/runtime';

/** nodemailer's error shape for a refused command. */
function smtpError(responseCode: number | undefined, response: string, extra: { code?: string; command?: string } = {}): Error {
  return Object.assign(new Error(response), { responseCode, response, code: extra.code ?? 'EENVELOPE', command: extra.command ?? 'RCPT TO' });
}

describe('SMTP replies at send time (RFC 5321 codes, RFC 3463 enhanced status)', () => {
  test.each([
    [550, '550 5.1.1 <a@example.com>: Recipient address rejected: User unknown', 'permanent', '5.1.1'],
    [550, '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by SMTP address lookup', 'permanent', '5.1.10'],
    [550, '550 5.7.1 Message rejected due to local policy', 'permanent', '5.7.1'],
    [552, '552 5.2.2 The email account that you tried to reach is over quota', 'transient', '5.2.2'],
    [451, '451 4.3.0 Try again later', 'transient', '4.3.0'],
    [450, '450 4.2.1 Mailbox temporarily disabled', 'transient', '4.2.1'],
  ])('%i %s -> %s', (code, response, kind, status) => {
    expect(classifySmtpError(smtpError(code, response))).toMatchObject({ kind, replyCode: code, status, command: 'RCPT' });
  });

  test('connection and TLS trouble, relay authentication and our own sender refused are never the reader\'s fault', () => {
    expect(classifySmtpError(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:25'), { code: 'ECONNECTION' })).kind).toBe('connection');
    expect(classifySmtpError(Object.assign(new Error('Greeting never received'), { code: 'ETIMEDOUT' })).kind).toBe('connection');
    expect(classifySmtpError(Object.assign(new Error('self-signed certificate'), { code: 'ETLS' })).kind).toBe('connection');
    expect(classifySmtpError(smtpError(535, '535 5.7.8 Authentication credentials invalid', { code: 'EAUTH', command: 'AUTH PLAIN' })).kind).toBe('connection');
    expect(classifySmtpError(smtpError(454, '454 4.7.0 TLS not available due to local problem')).kind).toBe('connection');
    expect(classifySmtpError(smtpError(421, '421 4.7.0 Too many errors, closing connection')).kind).toBe('connection');
    expect(classifySmtpError(smtpError(553, '553 5.1.8 Sender address rejected: Domain not found', { command: 'MAIL FROM' })).kind).toBe('connection');
  });

  test('a refusal after DATA is read with its command', () => {
    const f = classifySmtpError(smtpError(554, '554 5.7.1 Message rejected as spam', { code: 'EMESSAGE', command: 'DATA' }));
    expect(f).toMatchObject({ kind: 'permanent', command: 'DATA' });
    expect(classifyReason({ ...f })).toBe('spamdetected');
  });
});

describe('reasons: hard only when the address itself is gone', () => {
  test.each([
    ['5.1.1', '550 5.1.1 <x@y>... User unknown', 'userunknown', true],
    ['5.1.10', '550 5.1.10 RESOLVER.ADR.RecipientNotFound', 'userunknown', true],
    ['5.1.2', '550 5.1.2 Host or domain name not found', 'hostunknown', true],
    ['5.2.2', '552 5.2.2 Mailbox full', 'mailboxfull', false],
    ['5.7.1', '554 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using zen.spamhaus.org', 'blocked', false],
    ['5.7.26', '550 5.7.26 Unauthenticated email from example.jp is not accepted due to domain\'s DMARC policy', 'authfailure', false],
    ['4.4.7', 'Delivery time expired', 'expired', false],
    ['5.1.6', '550 5.1.6 Recipient address has moved', 'hasmoved', true],
    ['5.1.8', '553 5.1.8 Domain of sender address does not exist', 'rejected', false],
    ['', '550 Requested action not taken: mailbox unavailable', 'userunknown', true],
  ])('%s %s -> %s', (status, diagnostic, reason, hard) => {
    const got = classifyReason({ status: status || undefined, diagnostic });
    expect(got).toBe(reason);
    expect(isHardReason(got, status || undefined)).toBe(hard);
  });

  test('"user unknown" said only after DATA is a filter, not a missing mailbox', () => {
    expect(smtpCommandOf('550 User unknown (in reply to end of DATA command)')).toBe('DATA');
    expect(classifyReason({ status: '5.0.0', diagnostic: '550 : User unknown (in reply to end of DATA command)' })).toBe('filtered');
    expect(classifyReason({ status: '5.0.0', diagnostic: '550 : User unknown (in reply to RCPT TO command)' })).toBe('userunknown');
  });

  test('status and reply codes are found in free text, not in dates or addresses', () => {
    expect(findStatus('smtp; 550-5.7.26 Unauthenticated email')).toBe('5.7.26');
    expect(findStatus('Status: 5.0.0 then 550 5.1.1 later')).toBe('5.1.1');
    expect(findStatus('from 192.0.2.5 and 203.0.113.45 port 25')).toBeUndefined();
    expect(findReplyCode('host 192.0.2.5 said: 550 Unknown user')).toBe(550);
    expect(findReplyCode('Thu, 29 Apr 2013 23:45:32 +0900')).toBeUndefined();
  });
});

describe('VERP envelope senders', () => {
  const settings = { secret: 'test-secret-0123456789abcdef', localPart: 'bounces', domain: 'bounces.daybreak.test' };
  const target = { editionId: 'national-2026-11-24', subscriberId: '4821' };

  test('name the edition and reader, fit in a local part, and read back', () => {
    const address = verpAddress(settings, target);
    expect(address).toMatch(/^bounces\+national-20261124\.4821\.[0-9a-f]{12}@bounces\.daybreak\.test$/);
    expect(address.split('@')[0]!.length).toBeLessThanOrEqual(64);
    expect(parseVerpAddress(settings, address)).toEqual({ ok: true, target });
    // Some MTAs fold case on the way back.
    expect(parseVerpAddress(settings, `<${address.toUpperCase()}>`)).toEqual({ ok: true, target });
  });

  test('cannot be forged: another reader, edition, secret or domain fails', () => {
    const address = verpAddress(settings, target);
    expect(parseVerpAddress(settings, address.replace('.4821.', '.4822.'))).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(parseVerpAddress(settings, address.replace('20261124', '20261125'))).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(parseVerpAddress({ ...settings, secret: 'another-secret-0123456789' }, address)).toMatchObject({ ok: false, reason: 'bad-signature' });
    expect(parseVerpAddress(settings, address.replace('bounces.daybreak.test', 'evil.test'))).toMatchObject({ ok: false, reason: 'not-verp' });
    expect(parseVerpAddress(settings, 'bounces+junk@bounces.daybreak.test')).toMatchObject({ ok: false, reason: 'malformed' });
  });

  test('are found anywhere in a returned message', () => {
    const address = verpAddress(settings, target);
    const text = `Return-Path: <${address}>\nOriginal-Mail-From: ${verpAddress({ ...settings, secret: 'forged-secret-000000000' }, { ...target, subscriberId: '1' })}\n`;
    expect(findVerpTargets(settings, text)).toEqual([target]);
  });

  test('envelopeSender uses VERP only when a bounce domain is configured', () => {
    const plain = testConfig(uniquePrefix('verp'));
    const newsletter = plain.newsletters[0]!;
    expect(envelopeSender(plain, newsletter, target.editionId, target.subscriberId)).toBe('national@daybreak.example');
    const withDomain = testConfig(uniquePrefix('verp'), { delivery: { ...plain.delivery, bounceDomain: 'bounces.daybreak.test' } });
    const sender = envelopeSender(withDomain, newsletter, target.editionId, target.subscriberId);
    expect(parseVerpAddress({ secret: withDomain.secret, localPart: 'bounces', domain: 'bounces.daybreak.test' }, sender)).toEqual({ ok: true, target });
  });
});
