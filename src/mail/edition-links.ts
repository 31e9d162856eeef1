/** Signed links that name an edition: story redirects, the edition an unsubscribe came from, editors' approval links. */
import crypto from 'node:crypto';
import { publicLink } from './addresses';

/**
 * Three kinds of link, each signed with its own key derived from DAYBREAK_SECRET (as tokens.ts
 * derives its key), so a signature made for one can never pass as another:
 *
 * - a story redirect `/r/<edition>/<story>/<sig>`: the signature binds the edition and the story
 *   key, so the redirect only ever sends someone to a URL that edition carried (no open redirect).
 *   It names no reader: every copy of an edition carries the same links (render once).
 * - an edition reference `<edition>.<sig>` on an unsubscribe link (`?e=`), binding edition and
 *   reader, so the report can say which edition an unsubscribe came from.
 * - a reader reference `<subscriber>.<sig>` (`?u=` on story links), only in a newsletter that
 *   opted in to per-reader click records.
 * - an editor's token `<edition>.<editor>.<expiry>.<sig>` for the approval page: one edition, one
 *   editor (a keyed hash of their address, looked up in the current config, so an editor removed
 *   from the config loses access), until the edition's slot.
 */

/** An edition id as the scheduler makes them (`<newsletter>-YYYY-MM-DD`), bounded. */
const EDITION_ID = /^[a-z0-9][a-z0-9-]{0,39}-\d{4}-\d{2}-\d{2}$/;
/** A story key: 11 URL-safe characters (see storyKey). */
const STORY_KEY = /^[A-Za-z0-9_-]{11}$/;
const SIG = /^[A-Za-z0-9_-]{22}$/;
const EDITOR_KEY = /^[A-Za-z0-9_-]{11}$/;

export function isEditionId(value: string): boolean {
  return value.length <= 60 && EDITION_ID.test(value);
}

export function isStoryKey(value: string): boolean {
  return STORY_KEY.test(value);
}

/**
 * A short, stable key for an article within an edition: a hash of its id (feed ids can be long
 * URLs). Stable when editors drop or pin stories, unlike a position.
 */
export function storyKey(articleId: string): string {
  return crypto.createHash('sha256').update(`daybreak:story:${articleId}`).digest('base64url').slice(0, 11);
}

export interface EditorClaims {
  editionId: string;
  /** The keyed hash of the editor's address (editorKey). */
  editor: string;
  /** Epoch seconds. */
  expiresAt: number;
}

export type EditorTokenCheck = { ok: true; claims: EditorClaims } | { ok: false; reason: 'malformed' | 'bad-signature' | 'expired'; claims?: EditorClaims };

export class EditionLinkSigner {
  private readonly clickKey: Buffer;
  private readonly refKey: Buffer;
  private readonly editorKeyKey: Buffer;
  private readonly readerKey: Buffer;

  constructor(secret: string) {
    const derive = (purpose: string) => crypto.createHmac('sha256', secret).update(purpose).digest();
    this.clickKey = derive('daybreak:clicks:v1');
    this.refKey = derive('daybreak:edition-ref:v1');
    this.editorKeyKey = derive('daybreak:editors:v1');
    this.readerKey = derive('daybreak:click-reader:v1');
  }

  private mac(key: Buffer, body: string): string {
    return crypto.createHmac('sha256', key).update(body).digest('base64url').slice(0, 22);
  }

  private static same(a: string, b: string): boolean {
    const x = Buffer.from(a);
    const y = Buffer.from(b);
    return x.length === y.length && crypto.timingSafeEqual(x, y);
  }

  // Story redirects

  clickSignature(editionId: string, key: string): string {
    return this.mac(this.clickKey, `${editionId}/${key}`);
  }

  /** The redirect's path for one story of one edition. */
  clickPath(editionId: string, articleId: string): string {
    const key = storyKey(articleId);
    return `/r/${editionId}/${key}/${this.clickSignature(editionId, key)}`;
  }

  clickUrl(publicUrl: string, editionId: string, articleId: string): string {
    return publicLink(publicUrl, this.clickPath(editionId, articleId));
  }

  /** True when the three path parts are well formed and the signature is ours. */
  verifyClick(editionId: string, key: string, sig: string): boolean {
    if (!isEditionId(editionId) || !isStoryKey(key) || !SIG.test(sig)) return false;
    return EditionLinkSigner.same(sig, this.clickSignature(editionId, key));
  }

  // The edition an unsubscribe link came from

  editionRef(editionId: string, subscriberId: string): string {
    return `${editionId}.${this.mac(this.refKey, `${subscriberId}|${editionId}`)}`;
  }

  /** The edition named by a `?e=` value, when it was signed for this reader; undefined otherwise. */
  verifyEditionRef(value: unknown, subscriberId: string): string | undefined {
    if (typeof value !== 'string' || value.length > 90) return undefined;
    const dot = value.lastIndexOf('.');
    if (dot < 1) return undefined;
    const editionId = value.slice(0, dot);
    const sig = value.slice(dot + 1);
    if (!isEditionId(editionId) || !SIG.test(sig)) return undefined;
    return EditionLinkSigner.same(sig, this.mac(this.refKey, `${subscriberId}|${editionId}`)) ? editionId : undefined;
  }

  // Per-reader click records (a newsletter's opt-in only)

  /** `<subscriber>.<sig>`: appended to story links (`?u=`) only in newsletters that keep per-reader clicks. */
  readerRef(subscriberId: string): string {
    return `${subscriberId}.${this.mac(this.readerKey, subscriberId)}`;
  }

  verifyReaderRef(value: unknown): string | undefined {
    if (typeof value !== 'string' || value.length > 40) return undefined;
    const dot = value.indexOf('.');
    const id = value.slice(0, dot);
    const sig = value.slice(dot + 1);
    if (dot < 1 || !/^[0-9]{1,15}$/.test(id) || !SIG.test(sig)) return undefined;
    return EditionLinkSigner.same(sig, this.mac(this.readerKey, id)) ? id : undefined;
  }

  // Editors

  /** A keyed hash of an editor's address: what their links carry instead of the address. */
  editorKey(email: string): string {
    return this.mac(this.editorKeyKey, `key|${email.trim().toLowerCase()}`).slice(0, 11);
  }

  signEditor(editionId: string, editorEmail: string, expiresAt: Date): string {
    const body = `${editionId}.${this.editorKey(editorEmail)}.${Math.floor(expiresAt.getTime() / 1000).toString(36)}`;
    return `${body}.${this.mac(this.editorKeyKey, body)}`;
  }

  verifyEditor(token: unknown, now: Date): EditorTokenCheck {
    if (typeof token !== 'string' || token.length > 140) return { ok: false, reason: 'malformed' };
    const parts = token.split('.');
    if (parts.length !== 4) return { ok: false, reason: 'malformed' };
    const [editionId, editor, exp, sig] = parts as [string, string, string, string];
    if (!isEditionId(editionId) || !EDITOR_KEY.test(editor) || !/^[0-9a-z]{1,12}$/.test(exp) || !SIG.test(sig)) return { ok: false, reason: 'malformed' };
    if (!EditionLinkSigner.same(sig, this.mac(this.editorKeyKey, `${editionId}.${editor}.${exp}`))) return { ok: false, reason: 'bad-signature' };
    const claims = { editionId, editor, expiresAt: parseInt(exp, 36) };
    if (claims.expiresAt * 1000 <= now.getTime()) return { ok: false, reason: 'expired', claims };
    return { ok: true, claims };
  }
}
