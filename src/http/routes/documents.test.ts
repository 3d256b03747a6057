import { X509Certificate, createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseDictionary } from 'structured-headers';
import { describe, expect, it } from 'vitest';
import { certificateFacts } from '../../signing/pades.ts';
import { sample } from '../../signing/material.ts';
import { loadContract } from '../contract.ts';
import { contentDisposition, reprDigest } from './documents.ts';

describe('the headers of a document download', () => {
  it('name the file in UTF-8 (filename*) with an ASCII fallback, its extension from its type', () => {
    const header = contentDisposition('Giấy chứng nhận "đăng ký"', 'application/pdf');
    expect(header).toBe(`attachment; filename="Giay chung nhan _dang ky_.pdf"; filename*=UTF-8''Gi%E1%BA%A5y%20ch%E1%BB%A9ng%20nh%E1%BA%ADn%20%22%C4%91%C4%83ng%20k%C3%BD%22.pdf`);
    const encoded = /filename\*=UTF-8''(.*)$/.exec(header)![1]!;
    expect(decodeURIComponent(encoded)).toBe('Giấy chứng nhận "đăng ký".pdf');
    expect(contentDisposition('scan.PNG', 'image/png')).toBe(`attachment; filename="scan.PNG"; filename*=UTF-8''scan.PNG`);
    expect(contentDisposition('photo.jpeg', 'image/jpeg')).toContain('filename="photo.jpeg"');
    expect(contentDisposition('Ảnh căn cước', 'image/tiff')).toBe(`attachment; filename="Anh can cuoc.tif"; filename*=UTF-8''%E1%BA%A2nh%20c%C4%83n%20c%C6%B0%E1%BB%9Bc.tif`);
    expect(contentDisposition("it's (1).jpg", 'image/jpeg')).toContain("filename*=UTF-8''it%27s%20%281%29.jpg");
    // Each letter keeps its case without its marks, decomposed input too; any .jpe/.jpeg/.jpg name is a JPEG's.
    expect(contentDisposition('ĐƠN đề nghị'.normalize('NFD'), 'image/jpeg')).toContain('filename="DON de nghi.jpg"');
    expect(contentDisposition('scan.JPE', 'image/jpeg')).toContain('filename="scan.JPE"');
  });

  it('give the SHA-256 as an RFC 9530 Repr-Digest: a byte sequence under sha-256', () => {
    const digest = createHash('sha256').update('content').digest();
    const header = reprDigest(digest.toString('hex'));
    expect(header).toBe(`sha-256=:${digest.toString('base64')}:`);
    const [value] = parseDictionary(header).get('sha-256') as [ArrayBuffer, unknown];
    expect(Buffer.from(value).equals(digest)).toBe(true);
  });
});

describe('the contract\'s document examples', () => {
  const paths = loadContract().document.paths as Record<string, Record<string, Record<string, unknown>>>;
  type Responses = Record<string, { content: Record<string, { examples: Record<string, { value: unknown }> }> }>;
  const created = (paths['/v1/documents']!.post!.responses as Responses)['201']!.content['application/json']!.examples.result!.value as {
    sha256: string;
    signatures: { signer: Record<string, string>; timestamp: { tsa: Record<string, string> } }[];
  };
  const download = (paths['/v1/documents/{documentCode}/content']!.get!.responses as Record<string, { headers: Record<string, { example: string }> }>)['200']!.headers;

  it('give the Repr-Digest of the sha256 they show', () => {
    expect(download['Repr-Digest']!.example).toBe(reprDigest(created.sha256));
    expect(download.ETag!.example).toBe(`"${created.sha256}"`);
  });

  it('name the sample seal and TSA as their certificates say', () => {
    const facts = (file: string) => certificateFacts(new X509Certificate(readFileSync(sample(file))));
    const seal = facts('document-seal.pem');
    const tsa = facts('tsa.pem');
    const [signature] = created.signatures;
    expect(signature!.signer).toMatchObject({ subject: seal.subject, issuer: seal.issuer, serialNumber: seal.serialNumber, sha256: seal.sha256 });
    expect(Date.parse(signature!.signer.notBefore!)).toBe(Date.parse(seal.notBefore));
    expect(signature!.timestamp.tsa).toMatchObject({ subject: tsa.subject, serialNumber: tsa.serialNumber, sha256: tsa.sha256 });
  });
});
