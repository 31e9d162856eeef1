/** A small, bounded XML element tree built in one streaming pass with sax: what the feed parser walks. */
import sax from 'sax';

export interface XmlElement {
  /** As written, prefix included (`dc:date`, `rdf:about`). */
  name: string;
  attrs: Record<string, string>;
  /** Elements and text (entities decoded; CDATA as is), in document order. */
  children: XmlNode[];
}
export type XmlNode = XmlElement | string;

export interface XmlTreeLimits {
  /** Deeper documents are refused: everything that walks the tree may then recurse safely. */
  maxDepth: number;
  /** Bounds the tree's memory on a hostile document of many tiny elements. */
  maxElements: number;
}

export const DEFAULT_XML_LIMITS: XmlTreeLimits = { maxDepth: 256, maxElements: 500_000 };

/** Why a document could not be read as XML; the message is for a person. */
export class XmlTreeError extends Error {
  override readonly name = 'XmlTreeError';
}

/**
 * Parses a whole document. sax is a linear state machine; in strict mode it stops at the first
 * well-formedness error, and it never expands entities declared in a DOCTYPE (an undeclared
 * entity is an error), so an entity bomb costs nothing. Only the five XML entities and HTML's
 * named ones (which real feeds use undeclared) are decoded.
 */
export function parseXmlTree(text: string, limits: XmlTreeLimits = DEFAULT_XML_LIMITS): XmlElement {
  const parser = sax.parser(true, { trim: false, normalize: false, position: true });
  const stack: XmlElement[] = [];
  let root: XmlElement | undefined;
  let elements = 0;
  const fail = (message: string): never => {
    throw new XmlTreeError(`${message} (line ${parser.line + 1}, column ${parser.column + 1})`);
  };

  parser.onerror = (error) => {
    throw new XmlTreeError(error.message.replace(/\s+/g, ' ').trim());
  };
  parser.onopentag = (tag) => {
    if (++elements > limits.maxElements) fail(`more than ${limits.maxElements} elements`);
    if (stack.length >= limits.maxDepth) fail(`elements nested more than ${limits.maxDepth} deep`);
    const element: XmlElement = { name: tag.name, attrs: tag.attributes as Record<string, string>, children: [] };
    const parent = stack[stack.length - 1];
    if (parent) parent.children.push(element);
    else root ??= element;
    stack.push(element);
  };
  parser.onclosetag = () => {
    stack.pop();
  };
  const addText = (value: string) => {
    const parent = stack[stack.length - 1];
    if (parent && value) parent.children.push(value);
  };
  parser.ontext = addText;
  parser.oncdata = addText;

  parser.write(text).close();
  if (!root) throw new XmlTreeError('no root element');
  return root;
}

// ---------------------------------------------------------------------------------------------
// Reading the tree

export function isElement(node: XmlNode | undefined): node is XmlElement {
  return typeof node === 'object' && node !== null;
}

export function childElements(element: XmlElement | undefined, name?: string): XmlElement[] {
  if (!element) return [];
  const out: XmlElement[] = [];
  for (const c of element.children) if (isElement(c) && (name === undefined || c.name === name)) out.push(c);
  return out;
}

export function firstChild(element: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  if (!element) return undefined;
  for (const name of names) {
    for (const c of element.children) if (isElement(c) && c.name === name) return c;
  }
  return undefined;
}

/** The element's own text (not its descendants'), trimmed; '' becomes undefined. */
export function ownText(element: XmlElement | undefined): string | undefined {
  if (!element) return undefined;
  let text = '';
  for (const c of element.children) if (typeof c === 'string') text += c;
  return text.trim() || undefined;
}

/** All text below the element, in order, with a space between elements (an xhtml title, say). */
export function deepText(element: XmlElement | undefined): string | undefined {
  if (!element) return undefined;
  const parts: string[] = [];
  const walk = (e: XmlElement) => {
    for (const c of e.children) {
      if (typeof c === 'string') parts.push(c);
      else {
        parts.push(' ');
        walk(c);
        parts.push(' ');
      }
    }
  };
  walk(element);
  return parts.join('').replace(/\s+/g, ' ').trim() || undefined;
}

const escapeText = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const escapeAttr = (t: string) => escapeText(t).replace(/"/g, '&quot;');

/** The element's content as markup (inline XHTML in a feed), prefixes dropped from names. */
export function innerMarkup(element: XmlElement): string {
  const out: string[] = [];
  const walk = (e: XmlElement) => {
    for (const c of e.children) {
      if (typeof c === 'string') {
        out.push(escapeText(c));
        continue;
      }
      const name = c.name.includes(':') ? c.name.slice(c.name.indexOf(':') + 1) : c.name;
      out.push(`<${name}`);
      for (const [k, v] of Object.entries(c.attrs)) if (!k.startsWith('xmlns')) out.push(` ${k}="${escapeAttr(v)}"`);
      out.push('>');
      walk(c);
      out.push(`</${name}>`);
    }
  };
  walk(element);
  return out.join('');
}
