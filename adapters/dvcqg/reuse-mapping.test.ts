import { describe, expect, it } from 'vitest';
import type { DocumentRecord } from '../../src/core/documents/port.ts';
import { reusedAttachment, withDepositedResults, withDocumentUrls } from '../../src/core/dossiers/documents.ts';
import { documentContentPath } from '../../src/core/documents/codes.ts';
import type { Dossier } from '../../src/core/dossiers/port.ts';
import { fixtureReader } from '../contract/test-kit.ts';
import { INFERRED, MappingError, REUSE_SOURCES, toWireDossier, wireDossierItem } from './mapping.ts';
import { portalDossierItem } from './simulator/dossiers.ts';

/*
 * Reused documents and results on the wire (README.md, "Reused documents and results"):
 * DuocTaiSuDung 0/1/2 with MaKetQuaThayThe, and DanhSachGiayToKetQua with the document codes.
 */

const fixture = fixtureReader(import.meta.url);
const dossier = JSON.parse(fixture('dossier.json').toString('utf8')) as Dossier;
type Attachment = NonNullable<Dossier['attachments']>[number];

const base = 'https://lienthong.sonla.gov.vn';
const documentUrl = (code: string) => `${base}${documentContentPath(code)}`;
const mark = { id: 'job-1', sequence: 1 };
const wire = (d: Dossier) => toWireDossier({ dossier: d, status: 2, processingEndedAt: null, returnedAt: null }, mark);
const attachment = (overrides: Partial<Attachment>): Attachment => ({ id: 'a', name: 'Giay.pdf', componentCode: 'TP02', url: 'https://motcua.sonla.gov.vn/files/a.pdf', digitised: true, reused: false, ...overrides });
const reuseColumns = (d: Dossier) => wire(d).TaiLieuNop.map((a) => [a.DuocTaiSuDung, a.MaKetQuaThayThe, a.DuocLayTuKhoDMQG]);

const document = (code: string, kind: DocumentRecord['kind'], documentType: string) => ({ code, kind, documentType });
const RESULT = 'H52.101.114.KQ.G15.000031.2026.000042';
const SUBMISSION = 'H52.101.114.TP.GKS.2026.000043';

describe('reuse flags in TaiLieuNop', () => {
  it('send 0 for a document not reused, 1 from an earlier submission, 2 from an earlier result with the result it stands in for', () => {
    const d: Dossier = {
      ...dossier,
      attachments: [
        attachment({ id: 'new' }),
        attachment({ id: 'sub', reused: true, reusedFrom: 'earlier_submission', replacesResultCode: 'KQ.IGNORED' }),
        attachment({ id: 'res', reused: true, reusedFrom: 'earlier_result', replacesResultCode: 'KQ.G15.000031' }),
        // An earlier result when the source is left out and a result it stands in for named, else 1.
        attachment({ id: 'dflt', reused: true, replacesResultCode: 'KQ.G15.000031' }),
        attachment({ id: 'bare', reused: true }),
        attachment({ id: 'repo', reused: true, reusedFrom: 'shared_repository', fromNationalRepository: true, replacesResultCode: 'KQ.G15.000031' }),
        // Not reused: no result code, whatever was sent.
        attachment({ id: 'not', reused: false, replacesResultCode: 'KQ.G15.000031' }),
      ],
    };
    expect(reuseColumns(d)).toEqual([
      ['0', '', '0'],
      ['1', '', '0'],
      ['2', 'KQ.G15.000031', '0'],
      ['2', 'KQ.G15.000031', '0'],
      ['1', '', '0'],
      [INFERRED.reuse.shared_repository, 'KQ.G15.000031', '1'],
      ['0', '', '0'],
    ]);
    expect(REUSE_SOURCES).toEqual({ earlier_submission: '1', earlier_result: '2' });
  });

  it('send a stored document as the gateway completed it: its content URL, digitised, reused, and for a result its type as MaKetQuaThayThe', () => {
    const named: Attachment = { id: 'kq', name: 'Giay-khai-sinh.pdf', componentCode: 'TP02', documentCode: RESULT };
    const d: Dossier = {
      ...dossier,
      attachments: withDocumentUrls([reusedAttachment(named, document(RESULT, 'result', 'KQ.G15.000031')), reusedAttachment({ ...named, id: 'tp', documentCode: SUBMISSION }, document(SUBMISSION, 'submission', 'TP.GKS'))], documentUrl),
    };
    const item = wire(d);
    expect(item.TaiLieuNop).toEqual([
      { TepDinhKemId: 'kq', TenTepDinhKem: 'Giay-khai-sinh.pdf', MaThanhPhanHoSo: 'TP02', DuongDanTaiTepTin: `${base}/v1/documents/${RESULT}/content`, DuocSoHoa: '1', DuocTaiSuDung: '2', DuocLayTuKhoDMQG: '0', MaKetQuaThayThe: 'KQ.G15.000031', IsDeleted: '0' },
      { TepDinhKemId: 'tp', TenTepDinhKem: 'Giay-khai-sinh.pdf', MaThanhPhanHoSo: 'TP02', DuongDanTaiTepTin: `${base}/v1/documents/${SUBMISSION}/content`, DuocSoHoa: '1', DuocTaiSuDung: '1', DuocLayTuKhoDMQG: '0', MaKetQuaThayThe: '', IsDeleted: '0' },
    ]);
    expect(item.HoSoCoThanhPhanSoHoa).toBe('1');
    expect(wireDossierItem.safeParse(item).success).toBe(true);
    expect(portalDossierItem.safeParse(item).success).toBe(true);
  });

  it('refuse to map an attachment that names a stored document the gateway did not complete', () => {
    expect(() => wire({ ...dossier, attachments: [{ id: 'x', name: 'x', componentCode: 'TP01', documentCode: RESULT }] })).toThrow(MappingError);
  });
});

describe('results in DanhSachGiayToKetQua', () => {
  it("list the system's own results, then the deposited ones by document code, content URL and type code", () => {
    const deposited = {
      code: RESULT,
      kind: 'result',
      name: 'Giấy chứng nhận đăng ký hộ kinh doanh',
      documentType: 'KQ.G12.000001',
      destroyedAt: null,
    } as DocumentRecord;
    const own = { id: 'kq-7f3a', name: 'Quyết định', url: 'https://motcua.sonla.gov.vn/ket-qua/kq-7f3a.pdf', componentCode: 'TP01', resultCode: 'KQ-HKD-01' };
    const item = wire({ ...dossier, results: withDepositedResults([own], [deposited], documentUrl)! });
    expect(item.DanhSachGiayToKetQua).toEqual([
      { TenGiayTo: 'Quyết định', GiayToId: 'kq-7f3a', MaThanhPhanHoSo: 'TP01', DuongDanTepTinKetQua: own.url, MaGiayToKetQua: 'KQ-HKD-01' },
      { TenGiayTo: 'Giấy chứng nhận đăng ký hộ kinh doanh', GiayToId: RESULT, MaThanhPhanHoSo: '', DuongDanTepTinKetQua: `${base}/v1/documents/${RESULT}/content`, MaGiayToKetQua: 'KQ.G12.000001' },
    ]);
    expect(portalDossierItem.safeParse(item).success).toBe(true);
  });
});
