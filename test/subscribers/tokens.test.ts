import { CONFIRM_TOKEN_TTL_SECONDS, emailHash, TokenSigner } from '../../src/mail/tokens';

describe('signed tokens', () => {
  const signer = new TokenSigner('test-secret-0123456789abcdef');
  const now = new Date('2026-11-24T09:00:00Z');

  test('carry purpose and subscriber; verify only for that purpose', () => {
    const token = signer.sign({ purpose: 'unsubscribe', subscriberId: '42', expiresAt: 0 });
    expect(signer.verify(token, 'unsubscribe', now)).toEqual({ ok: true, claims: { purpose: 'unsubscribe', subscriberId: '42', expiresAt: 0 } });
    expect(signer.verify(token, 'preferences', now)).toMatchObject({ ok: false, reason: 'wrong-purpose' });
    expect(signer.verify(token, 'confirm', now)).toMatchObject({ ok: false, reason: 'wrong-purpose' });
  });

  test('any change to any part breaks the signature', () => {
    const token = signer.signConfirm('42', 'nonce-abcdefgh', now);
    const parts = token.split('.');
    expect(parts).toHaveLength(5);
    const edits = [
      ['preferences', ...parts.slice(1)],
      [parts[0], '43', ...parts.slice(2)],
      [parts[0], parts[1], (parseInt(parts[2] as string, 36) + 86_400 * 30).toString(36), ...parts.slice(3)],
      [...parts.slice(0, 3), 'nonce-abcdefgX', parts[4]],
      [...parts.slice(0, 4), `${(parts[4] as string).slice(0, -1)}${(parts[4] as string).endsWith('A') ? 'B' : 'A'}`],
    ];
    for (const edit of edits) {
      const result = signer.verify(edit.join('.'), 'confirm', now);
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason).toBe('bad-signature');
    }
    // Dropping the nonce makes a different body: still refused.
    expect(signer.verify([...parts.slice(0, 3), parts[4]].join('.'), 'confirm', now)).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  test('a token signed with another secret is refused', () => {
    const other = new TokenSigner('another-secret-0123456789');
    expect(signer.verify(other.sign({ purpose: 'unsubscribe', subscriberId: '1', expiresAt: 0 }), 'unsubscribe', now)).toMatchObject({ ok: false, reason: 'bad-signature' });
  });

  test('confirm links expire after 7 days and still say whose they were', () => {
    const token = signer.signConfirm('7', 'abcdefgh12345678', now);
    expect(signer.verify(token, 'confirm', new Date(now.getTime() + (CONFIRM_TOKEN_TTL_SECONDS - 60) * 1000))).toMatchObject({ ok: true, claims: { subscriberId: '7', nonce: 'abcdefgh12345678' } });
    const late = signer.verify(token, 'confirm', new Date(now.getTime() + (CONFIRM_TOKEN_TTL_SECONDS + 60) * 1000));
    expect(late).toMatchObject({ ok: false, reason: 'expired', claims: { subscriberId: '7', nonce: 'abcdefgh12345678' } });
    expect(CONFIRM_TOKEN_TTL_SECONDS).toBe(7 * 24 * 3600);
  });

  test('malformed input is refused without throwing', () => {
    for (const bad of ['', 'x', 'a.b.c.d', 'confirm.1.0.zz.yy.xx', 'unsubscribe.-1.0.abc', `unsubscribe.1.0.${'a'.repeat(300)}`, 'unsubscribe.1.0.bad nonce.mac', 'unsubscribe.1e3.0.mac']) {
      expect(signer.verify(bad, 'unsubscribe', now)).toMatchObject({ ok: false, reason: 'malformed' });
    }
    expect(() => signer.sign({ purpose: 'form', subscriberId: 'abc', expiresAt: 0 })).toThrow(/digits/);
  });

  test('links in emails already sent (no nonce, never expire) keep working', () => {
    // The format before nonces existed: <purpose>.<id>.<exp>.<mac>.
    const old = signer.sign({ purpose: 'unsubscribe', subscriberId: '5', expiresAt: 0 });
    expect(old.split('.')).toHaveLength(4);
    expect(signer.verify(old, 'unsubscribe', new Date('2036-01-01T00:00:00Z'))).toMatchObject({ ok: true });
  });

  test('the email hash is keyed and case-insensitive input is the caller\'s job', () => {
    expect(emailHash('k1', 'a@example.com')).not.toBe(emailHash('k2', 'a@example.com'));
    expect(emailHash('k1', 'a@example.com')).toHaveLength(32);
  });
});
