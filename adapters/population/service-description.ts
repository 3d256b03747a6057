import { readFileSync } from 'node:fs';
import { DOMParser, onWarningStopParsing, type Element, type Node } from '@xmldom/xmldom';
import { OPERATIONS, type Operation } from './mapping.ts';

/**
 * The service description the client works from: `congdan-service.wsdl`, shipped with the adapter
 * and read from disk once. It is never fetched from the service: an unsigned description taken off
 * the network (and the imports it names) would decide what the client sends and where.
 */

const WSDL_NS = 'http://schemas.xmlsoap.org/wsdl/';
const SOAP_BINDING_NS = 'http://schemas.xmlsoap.org/wsdl/soap/';
const XSD_NS = 'http://www.w3.org/2001/XMLSchema';

export interface OperationDescription {
  /** The SOAPAction header value (unquoted). */
  soapAction: string;
  /** The request element's children, in the order the schema's sequence gives them. */
  requestFields: readonly string[];
}

export type ServiceDescription = Readonly<Record<Operation, OperationDescription>>;

const elements = (node: Node, ns: string, localName: string): Element[] => {
  const found: Element[] = [];
  const stack: Node[] = [node];
  while (stack.length > 0) {
    const current = stack.pop()!;
    for (let child = current.lastChild; child; child = child.previousSibling) {
      if (child.nodeType !== child.ELEMENT_NODE) continue;
      const element = child as Element;
      if (element.namespaceURI === ns && element.localName === localName) found.push(element);
      stack.push(element);
    }
  }
  return found.reverse();
};

/**
 * Reads the operations' SOAPAction and request fields from a WSDL 1.1 text. A description that
 * imports or includes anything, carries a DTD or lacks one of our operations is refused: the one
 * shipped must be complete in itself.
 */
export function readServiceDescription(text: string): ServiceDescription {
  if (/<!DOCTYPE|<!ENTITY/i.test(text)) throw new Error('the service description carries a DTD');
  const doc = new DOMParser({ onError: onWarningStopParsing }).parseFromString(text, 'text/xml');
  const root = doc.documentElement;
  if (!root || root.namespaceURI !== WSDL_NS || root.localName !== 'definitions') throw new Error('the service description is not a WSDL 1.1 document');
  const external = [...elements(root, WSDL_NS, 'import'), ...elements(root, XSD_NS, 'import'), ...elements(root, XSD_NS, 'include'), ...elements(root, XSD_NS, 'redefine')];
  if (external.length > 0) throw new Error('the service description refers to other documents');

  const described = {} as Record<Operation, OperationDescription>;
  for (const operation of Object.values(OPERATIONS)) {
    const soapAction = elements(root, WSDL_NS, 'operation')
      .filter((o) => o.getAttribute('name') === operation)
      .flatMap((o) => elements(o, SOAP_BINDING_NS, 'operation'))
      .map((o) => o.getAttribute('soapAction') ?? '')[0];
    if (!soapAction) throw new Error(`the service description gives no SOAPAction for ${operation}`);
    const request = elements(root, XSD_NS, 'element').find((e) => e.getAttribute('name') === operation && e.parentNode && (e.parentNode as Element).localName === 'schema');
    const sequence = request && elements(request, XSD_NS, 'sequence')[0];
    if (!sequence) throw new Error(`the service description does not describe the ${operation} request`);
    const requestFields = elements(sequence, XSD_NS, 'element')
      .filter((e) => e.parentNode === sequence)
      .map((e) => e.getAttribute('name') ?? '');
    described[operation] = { soapAction, requestFields };
  }
  return Object.freeze(described);
}

export const WSDL_FILE = new URL('./congdan-service.wsdl', import.meta.url);

/** The shipped description, read once when the adapter loads. */
export const SERVICE_DESCRIPTION: ServiceDescription = readServiceDescription(readFileSync(WSDL_FILE, 'utf8'));
