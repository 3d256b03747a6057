import { XMLBuilder, XMLParser, XMLValidator } from 'fast-xml-parser';

/**
 * XML in and out of the tax administration, with the usual XML attacks closed: no DTD is ever
 * read (so no external entity can reach a file or a URL and no entity can expand into gigabytes),
 * only the five predefined entities and character references are decoded, attributes are not read
 * at all, and every value stays a string, so codes like `0100109106` keep their leading zeros.
 * The client and the simulator both use it.
 */
export class XmlRefusedError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'XmlRefusedError';
  }
}

const PREDEFINED = new Map([
  ['lt', '<'],
  ['gt', '>'],
  ['amp', '&'],
  ['quot', '"'],
  ['apos', "'"],
]);

/** Characters XML 1.0 allows in a document (section 2.2). */
function isXmlChar(cp: number): boolean {
  return cp === 0x9 || cp === 0xa || cp === 0xd || (cp >= 0x20 && cp <= 0xd7ff) || (cp >= 0xe000 && cp <= 0xfffd) || (cp >= 0x10000 && cp <= 0x10ffff);
}

function hasForbiddenCharacter(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if ((c < 0x20 && c !== 0x9 && c !== 0xa && c !== 0xd) || c === 0xfffe || c === 0xffff) return true;
  }
  return false;
}

const REFERENCE = /&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|[A-Za-z_][\w.-]*)?(;)?/g;

/**
 * Decodes entity and character references in one text value. With no DTD allowed, a named
 * entity other than the five predefined ones is undeclared, so the document is refused rather
 * than passed on with `&name;` left in it.
 */
export function decodeReferences(value: string): string {
  if (!value.includes('&')) return value;
  return value.replace(REFERENCE, (_match, name: string | undefined, semicolon: string | undefined) => {
    if (!name || !semicolon) throw new XmlRefusedError('a bare "&" is not well-formed XML');
    if (name.startsWith('#')) {
      const cp = name[1] === 'x' ? Number.parseInt(name.slice(2), 16) : Number.parseInt(name.slice(1), 10);
      if (!isXmlChar(cp)) throw new XmlRefusedError(`character reference &${name}; is not an XML character`);
      return String.fromCodePoint(cp);
    }
    const decoded = PREDEFINED.get(name);
    if (decoded === undefined) throw new XmlRefusedError(`undeclared entity &${name};`);
    return decoded;
  });
}

/**
 * Decodes a document and refuses what no answer of ours may carry, before any parser sees it:
 * bytes that are not UTF-8, another declared encoding, characters XML forbids, and any document
 * type declaration or entity declaration. The returned text is what a signature check reads.
 */
export function screenXml(input: Buffer | string): string {
  let text: string;
  if (typeof input === 'string') {
    text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  } else {
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(input);
    } catch (err) {
      throw new XmlRefusedError('the document is not UTF-8', { cause: err });
    }
  }
  // Case-insensitive on purpose: a parser lenient about case must not get a second chance.
  if (/<!DOCTYPE/i.test(text)) throw new XmlRefusedError('a document type declaration (DTD) is refused');
  if (/<!ENTITY/i.test(text)) throw new XmlRefusedError('an entity declaration is refused');
  if (hasForbiddenCharacter(text)) throw new XmlRefusedError('the document contains characters XML does not allow');
  const declared = /^\s*<\?xml\b[^>]*?\bencoding\s*=\s*["']([^"']*)["']/.exec(text);
  if (declared && !/^utf-?8$/i.test(declared[1]!)) throw new XmlRefusedError('the document declares an encoding other than UTF-8');
  return text;
}

const parser = new XMLParser({
  ignoreAttributes: true,
  allowBooleanAttributes: false,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  removeNSPrefix: false,
  trimValues: true,
  isArray: () => false,
  stopNodes: [],
  unpairedTags: [],
  // Our documents are four levels deep; an enveloped signature adds three or four.
  maxNestedTags: 20,
  strictReservedNames: true,
  // CDATA content passes here too and is decoded like text: a CDATA section holding a literal
  // "&amp;" would lose its escape, which is harmless for the plain values these answers carry.
  tagValueProcessor: (_tag, value) => decodeReferences(value),
});

/**
 * Parses a document into plain objects of strings (repeated elements become arrays, so a schema
 * expecting one element refuses them). Throws XmlRefusedError for anything not well-formed or
 * refused by `screenXml`; validate the result with a schema before use.
 */
export function parseXml(input: Buffer | string): unknown {
  const text = screenXml(input);
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) throw new XmlRefusedError(`the document is not well-formed (line ${valid.err.line})`, { cause: new Error(valid.err.msg) });
  let document: unknown;
  try {
    document = parser.parse(text);
  } catch (err) {
    if (err instanceof XmlRefusedError) throw err;
    throw new XmlRefusedError('the document could not be parsed', { cause: err });
  }
  // The validator lets `<a/><b/>` through; a document has exactly one root element.
  if (typeof document !== 'object' || document === null || Object.keys(document).length !== 1) {
    throw new XmlRefusedError('the document must have exactly one root element');
  }
  return document;
}

const builder = new XMLBuilder({
  ignoreAttributes: true,
  // Escapes & < > " ' in every text value, so no value can open an element or a declaration.
  processEntities: true,
  format: false,
  suppressEmptyNode: false,
});

const DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>';

/** A UTF-8 document from plain objects of strings; undefined members are left out. */
export function buildXml(document: Record<string, unknown>): string {
  return DECLARATION + (builder.build(document) as string);
}
