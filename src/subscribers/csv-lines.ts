/** CSV read one physical line at a time, as a pure streamed parser: each line gives its fields or the one reason it was refused. */
import { isUtf8 } from 'node:buffer';

/*
 * Why lines and not RFC 4180 records: a subscriber file has no field that may hold a line break
 * (addresses and names refuse them anyway), and a record that may span lines lets one unbalanced
 * quote swallow the rest of the file. Here CR, LF and CRLF each end a line (mixed freely), a
 * quoted field must close on its own line, and a bad line costs that line only: the next one
 * starts afresh. Every byte is looked at a bounded number of times, and no more than
 * `maxLineBytes` of one line is ever held.
 */

export type CsvEncoding = 'utf8' | 'latin1';

export interface CsvLineOptions {
  /** How the bytes are text: UTF-8 (a line that is not valid UTF-8 is refused), or ISO-8859-1. */
  encoding?: CsvEncoding;
  /** A longer line is refused whole (and skipped without being held in memory). */
  maxLineBytes?: number;
}

export type CsvLine =
  /** `line` is 1-based, counting every line of the file (blank ones included). */
  | { kind: 'fields'; line: number; fields: string[] }
  | { kind: 'bad'; line: number; reason: string };

export const DEFAULT_MAX_LINE_BYTES = 64 * 1024;

const LF = 0x0a;
const CR = 0x0d;
const QUOTE = 0x22;
const COMMA = 0x2c;

/**
 * Splits one line into fields. Quoted fields may hold commas and doubled quotes; spaces or tabs
 * around a quoted field are allowed; a quote inside an unquoted field is taken literally.
 * Returns the fields, or a reason when a quoted field is not closed or has text after its quote.
 */
export function splitCsvLine(text: string): string[] | { error: string } {
  if (!text.includes('"')) return text.split(',');
  const fields: string[] = [];
  const n = text.length;
  let i = 0;
  for (;;) {
    let j = i;
    while (j < n && (text.charCodeAt(j) === 0x20 || text.charCodeAt(j) === 0x09)) j++;
    if (j < n && text.charCodeAt(j) === QUOTE) {
      let value = '';
      let from = j + 1;
      for (;;) {
        const q = text.indexOf('"', from);
        if (q === -1) return { error: `a quoted field (column ${fields.length + 1}) is not closed on this line` };
        if (text.charCodeAt(q + 1) === QUOTE) {
          value += text.slice(from, q + 1);
          from = q + 2;
          continue;
        }
        value += text.slice(from, q);
        i = q + 1;
        break;
      }
      while (i < n && (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x09)) i++;
      fields.push(value);
      if (i === n) return fields;
      if (text.charCodeAt(i) !== COMMA) return { error: `text after the closing quote of column ${fields.length}` };
      i++;
    } else {
      const comma = text.indexOf(',', i);
      if (comma === -1) {
        fields.push(text.slice(i));
        return fields;
      }
      fields.push(text.slice(i, comma));
      i = comma + 1;
    }
  }
}

/**
 * The line machine behind readCsvLines, usable without streams: push chunks of bytes, take the
 * lines they complete, then end(). Blank lines are counted but not returned.
 */
export class CsvLineSplitter {
  private readonly encoding: CsvEncoding;
  private readonly maxLineBytes: number;
  private parts: Uint8Array[] = [];
  private held = 0;
  private overlong = false;
  private afterCr = false;
  private atFileStart = true;
  private line = 1;

  constructor(options: CsvLineOptions = {}) {
    this.encoding = options.encoding ?? 'utf8';
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
  }

  push(chunk: Uint8Array, out: CsvLine[] = []): CsvLine[] {
    const n = chunk.length;
    let pos = 0;
    if (this.afterCr && n > 0) {
      // The LF of a CRLF split across two chunks.
      if (chunk[0] === LF) pos = 1;
      this.afterCr = false;
    }
    // The next LF and CR at or after pos, each searched for again only once passed: linear.
    let nextLf = -2;
    let nextCr = -2;
    while (pos < n) {
      if (nextLf !== -1 && nextLf < pos) nextLf = chunk.indexOf(LF, pos);
      if (nextCr !== -1 && nextCr < pos) nextCr = chunk.indexOf(CR, pos);
      const end = nextLf === -1 ? nextCr : nextCr === -1 ? nextLf : Math.min(nextLf, nextCr);
      if (end === -1) {
        this.hold(chunk.subarray(pos));
        break;
      }
      this.hold(chunk.subarray(pos, end));
      this.finishLine(out);
      if (chunk[end] === CR) {
        if (end + 1 === n) this.afterCr = true;
        pos = end + 1 < n && chunk[end + 1] === LF ? end + 2 : end + 1;
      } else pos = end + 1;
    }
    return out;
  }

  end(out: CsvLine[] = []): CsvLine[] {
    if (this.held > 0 || this.overlong) this.finishLine(out);
    return out;
  }

  private hold(bytes: Uint8Array): void {
    if (bytes.length === 0 || this.overlong) return;
    if (this.held + bytes.length > this.maxLineBytes) {
      this.overlong = true;
      this.parts = [];
      this.held = 0;
      return;
    }
    this.parts.push(bytes);
    this.held += bytes.length;
  }

  private finishLine(out: CsvLine[]): void {
    const line = this.line++;
    const atFileStart = this.atFileStart;
    this.atFileStart = false;
    if (this.overlong) {
      this.overlong = false;
      out.push({ kind: 'bad', line, reason: `line is longer than ${this.maxLineBytes.toLocaleString('en-GB')} bytes` });
      return;
    }
    let bytes = this.parts.length === 1 ? (this.parts[0] as Uint8Array) : Buffer.concat(this.parts, this.held);
    this.parts = [];
    this.held = 0;
    if (atFileStart && bytes.length >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(3);
    if (bytes.length === 0) return;
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    if (this.encoding === 'utf8' && !isUtf8(buf)) {
      const bad = firstInvalidUtf8Offset(buf) ?? 0;
      out.push({ kind: 'bad', line, reason: `byte 0x${(buf[bad] ?? 0).toString(16).toUpperCase().padStart(2, '0')} (byte ${bad + 1} of the line) is not valid UTF-8` });
      return;
    }
    const split = splitCsvLine(buf.toString(this.encoding));
    out.push(Array.isArray(split) ? { kind: 'fields', line, fields: split } : { kind: 'bad', line, reason: `malformed CSV: ${split.error}` });
  }
}

/** Lines of a byte stream (a file read stream, or any iterable of chunks), as they complete. */
export async function* readCsvLines(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options: CsvLineOptions = {}): AsyncGenerator<CsvLine> {
  const splitter = new CsvLineSplitter(options);
  const out: CsvLine[] = [];
  for await (const chunk of chunks) {
    splitter.push(chunk, out);
    for (const item of out) yield item;
    out.length = 0;
  }
  yield* splitter.end();
}

/**
 * Where the first byte that is not valid UTF-8 starts (the first byte of the ill-formed
 * sequence), or undefined when all of `bytes` is. A sequence cut off by the end counts as bad.
 * The rules are those of the Unicode standard (table 3-7): no overlongs, surrogates or values
 * past U+10FFFF.
 */
export function firstInvalidUtf8Offset(bytes: Uint8Array): number | undefined {
  const n = bytes.length;
  let i = 0;
  while (i < n) {
    const b = bytes[i] as number;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      else if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      else if (b === 0xf4) hi = 0x8f;
    } else return i;
    if (i + need >= n) return i; // cut off by the end
    const second = bytes[i + 1] as number;
    if (second < lo || second > hi) return i;
    for (let k = 2; k <= need; k++) {
      const c = bytes[i + k] as number;
      if (c < 0x80 || c > 0xbf) return i;
    }
    i += need + 1;
  }
  return undefined;
}

export interface Utf8Problem {
  /** 1-based line (CR, LF and CRLF each end one) where the bad byte is. */
  line: number;
  /** The byte's value, and its 0-based offset in the file. */
  byte: number;
  offset: number;
}

/**
 * Scans a byte stream for the first byte that is not valid UTF-8, counting lines as
 * CsvLineSplitter does, without holding more than a chunk. Fast: whole chunks are checked at
 * once and only a failing chunk is walked byte by byte.
 */
export async function findInvalidUtf8(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Utf8Problem | undefined> {
  let line = 1;
  let afterCr = false;
  let carry: Buffer = Buffer.alloc(0);
  let consumed = 0; // file offset of carry[0] (or of the next chunk when carry is empty)
  const countBreaks = (bytes: Buffer) => {
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      if (b === LF) {
        if (!afterCr) line++;
        afterCr = false;
      } else if (b === CR) {
        line++;
        afterCr = true;
      } else afterCr = false;
    }
  };
  for await (const raw of chunks) {
    const input = Buffer.isBuffer(raw) ? raw : Buffer.from(raw.buffer, raw.byteOffset, raw.length);
    const chunk = carry.length ? Buffer.concat([carry, input]) : input;
    const keep = incompleteTail(chunk);
    const body = chunk.subarray(0, chunk.length - keep);
    if (!isUtf8(body)) {
      const at = firstInvalidUtf8Offset(body) ?? 0;
      countBreaks(body.subarray(0, at));
      return { line, byte: body[at] as number, offset: consumed + at };
    }
    countBreaks(body);
    consumed += body.length;
    carry = Buffer.from(chunk.subarray(chunk.length - keep));
  }
  if (carry.length) return { line, byte: carry[0] as number, offset: consumed };
  return undefined;
}

/** How many bytes at the end start a multi-byte sequence the chunk does not finish (0 to 3). */
function incompleteTail(chunk: Buffer): number {
  const n = chunk.length;
  for (let back = 1; back <= Math.min(3, n); back++) {
    const b = chunk[n - back] as number;
    if ((b & 0xc0) === 0x80) continue; // a continuation byte: look further back
    const length = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return length > back ? back : 0;
  }
  return 0;
}
