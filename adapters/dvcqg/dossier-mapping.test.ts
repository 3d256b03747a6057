import { describe, expect, it } from 'vitest';
import type { Dossier, DossierProgressEvent } from '../../src/core/dossiers/port.ts';
import { fixtureReader } from '../contract/test-kit.ts';
import { INFERRED, toWireDossier, toWireProgress, wireDossierItem, wireProgressItem } from './mapping.ts';
import { portalDossierItem } from './simulator/dossiers.ts';

const fixture = fixtureReader(import.meta.url);
/** A dossier as the API takes it (the contract's example). */
const dossier = JSON.parse(fixture('dossier.json').toString('utf8')) as Dossier;

describe('dvcqg dossier mapping (English API → DongBoHoSoMC / CapNhatTienDoHoSoMC)', () => {
  it('maps a new dossier field by field, dates in Vietnam time as yyyyMMddHHmmss', () => {
    const item = toWireDossier({ dossier, status: 1, processingEndedAt: null, returnedAt: null }, { id: 'job-1', sequence: 1 });
    expect(item).toEqual({
      MaHoSo: 'H52.101.114-261127-0001',
      MaTTHC: '1.004616.000.00.00.H52',
      TenTTHC: 'Đăng ký thành lập hộ kinh doanh',
      MaLinhVuc: 'G12',
      TenLinhVuc: 'Thành lập và hoạt động của hộ kinh doanh',
      SoBienNhan: '0001/BN-TH',
      ChuHoSo: 'Cầm Thị Hoa',
      LoaiDoiTuong: '1',
      // No national account known: MaDoiTuong is empty, never the ID number.
      MaDoiTuong: '',
      DinhDanhCHS: [{ LoaiDinhDanh: '1', SoDinhDanh: '014192004567' }],
      SoGiayToChuHoSo: '014192004567',
      Email: 'camthihoa@example.com',
      SoDienThoai: '0912345678',
      TrichYeuHoSo: 'Đăng ký thành lập hộ kinh doanh Quán ăn Bản Mòng',
      NgayNopHoSo: '20261127084210',
      NgayTiepNhan: '20261127084210',
      NgayHenTra: '20261202170000',
      TrangThaiHoSo: '1',
      NgayTra: '',
      NgayTuChoi: '',
      // HinhThuc is how the result is returned (1 by post), not how the dossier came in.
      HinhThuc: '0',
      NgayKetThucXuLy: '',
      DonViXuLy: 'Ủy ban nhân dân phường Tô Hiệu',
      NoiNopHoSo: '',
      TaiLieuNop: [
        {
          TepDinhKemId: 'afaa286b',
          TenTepDinhKem: 'Giay-de-nghi.pdf',
          MaThanhPhanHoSo: 'TP01',
          DuongDanTaiTepTin: 'https://motcua.sonla.gov.vn/files/afaa286b.pdf',
          DuocSoHoa: '1',
          DuocTaiSuDung: '0',
          DuocLayTuKhoDMQG: '0',
          MaKetQuaThayThe: '',
          IsDeleted: '0',
        },
      ],
      DanhSachLePhi: [{ TenPhiLePhi: 'Lệ phí đăng ký hộ kinh doanh', MaPhiLePhi: '', HinhThucThu: '2', Gia: '100000', LoaiPhiLePhi: '2' }],
      DanhSachHoSoBoSung: [],
      DanhSachGiayToKetQua: [],
      HoSoCoThanhPhanSoHoa: '1',
      KenhThucHien: '2',
      DuocThanhToanTrucTuyen: '1',
      TaiKhoanDuocXacThucVoiVNeID: '1',
      DSKetNoiCSDL: [],
      ThongTinKhac: '',
      ThongTinTra: '',
      GhiChu: '',
      MaDongBo: 'job-1',
      SoThuTuDongBo: 1,
    });
    expect(wireDossierItem.parse(item)).toEqual(item);
    // What the gateway sends is what the stand-in portal's own schema accepts.
    expect(portalDossierItem.safeParse(item).success).toBe(true);
  });

  it('maps the fields the national service index reads: account, identifiers, result by post, payment platform, fees, reuse, results, databases', () => {
    const full = JSON.parse(fixture('dossier-full.json').toString('utf8')) as Dossier;
    const item = toWireDossier({ dossier: full, status: 10, processingEndedAt: '2026-12-01T16:00:00+07:00', returnedAt: '2026-12-02T09:00:00+07:00' }, { id: 'job-4', sequence: 4 });
    expect(item).toMatchObject({
      MaHoSo: '000.00.01.H52-261127-0001',
      MaDoiTuong: 'b2f7c0de-4b1e-4d8a-9c51-0d3f5e6a7b80',
      DinhDanhCHS: [{ LoaiDinhDanh: '1', SoDinhDanh: '014192004567' }],
      SoGiayToChuHoSo: '014192004567',
      NgayNopHoSo: '20261126211500',
      NgayTiepNhan: '20261127084210',
      NgayTuChoi: '',
      HinhThuc: '1',
      DuocThanhToanTrucTuyen: '2',
      NoiNopHoSo: 'Cổng Dịch vụ công quốc gia',
      HoSoCoThanhPhanSoHoa: '1',
      DSKetNoiCSDL: [{ MaCSDL: INFERRED.database.population }, { MaCSDL: INFERRED.database.tax }],
      ThongTinKhac: 'Hộ kinh doanh ăn uống',
      ThongTinTra: 'Trả qua bưu chính công ích',
      GhiChu: 'Đã đối chiếu bản gốc',
      DanhSachLePhi: [{ TenPhiLePhi: 'Lệ phí đăng ký hộ kinh doanh', MaPhiLePhi: 'LP01', HinhThucThu: INFERRED.feeCollection.online, Gia: '100000', LoaiPhiLePhi: INFERRED.feeKind.charge }],
      DanhSachGiayToKetQua: [
        { TenGiayTo: 'Giấy chứng nhận đăng ký hộ kinh doanh', GiayToId: 'kq-7f3a', MaThanhPhanHoSo: 'TP01', DuongDanTepTinKetQua: 'https://motcua.sonla.gov.vn/ket-qua/kq-7f3a.pdf', MaGiayToKetQua: 'KQ-HKD-01' },
      ],
    });
    expect(item.TaiLieuNop.map((a) => [a.TepDinhKemId, a.DuocTaiSuDung, a.DuocLayTuKhoDMQG, a.MaKetQuaThayThe, a.IsDeleted])).toEqual([
      ['afaa286b', '0', '0', '', '0'],
      ['c41d9e02', INFERRED.reuse.shared_repository, '1', 'KQ-HT-01', '0'],
      ['d0e55a17', '0', '0', '', '1'],
    ]);
    expect(typeof item.DanhSachLePhi[0]!.Gia).toBe('string');
    expect(portalDossierItem.safeParse(item).success).toBe(true);
    // Refused at the desk: when it was refused is NgayTuChoi.
    expect(toWireDossier({ dossier: full, status: 3, processingEndedAt: '2026-11-27T10:00:00+07:00', returnedAt: null }, { id: 'j', sequence: 2 }).NgayTuChoi).toBe('20261127100000');
    // An old 9-digit card number is LoaiDinhDanh 2.
    expect(toWireDossier({ dossier: { ...full, applicant: { ...full.applicant, identifier: '050123456' } }, status: 2, processingEndedAt: null, returnedAt: null }, { id: 'j', sequence: 2 }).DinhDanhCHS).toEqual([
      { LoaiDinhDanh: '2', SoDinhDanh: '050123456' },
    ]);
  });

  it('carries the status, when processing ended and when the result was returned; converts other offsets to Vietnam time', () => {
    const item = toWireDossier({ dossier, status: 10, processingEndedAt: '2026-12-01T08:20:00Z', returnedAt: '2026-12-02T09:00:00+07:00' }, { id: 'job-9', sequence: 9 });
    expect(item).toMatchObject({ TrangThaiHoSo: '10', NgayKetThucXuLy: '20261201152000', NgayTra: '20261202090000', SoThuTuDongBo: 9, MaDongBo: 'job-9' });
  });

  it('maps a business applicant in person, without contact details, attachments or fees', () => {
    const business: Dossier = { ...dossier, applicant: { type: 'business', identifier: '5500123457', name: 'Công ty TNHH Chè Mộc Châu' }, channel: 'in_person', onlinePayment: undefined, vneidVerified: false, attachments: undefined, fees: undefined };
    const item = toWireDossier({ dossier: business, status: 2, processingEndedAt: null, returnedAt: null }, { id: 'j', sequence: 2 });
    expect(item).toMatchObject({ LoaiDoiTuong: '2', DinhDanhCHS: [], MaDoiTuong: '', SoGiayToChuHoSo: '5500123457', Email: '', SoDienThoai: '', KenhThucHien: '1', HinhThuc: '0', DuocThanhToanTrucTuyen: '0', TaiKhoanDuocXacThucVoiVNeID: '0', HoSoCoThanhPhanSoHoa: '0', TaiLieuNop: [], DanhSachLePhi: [] });
    const agency = { ...business, applicant: { ...business.applicant, type: 'state_agency' as const } };
    expect(toWireDossier({ dossier: agency, status: 2, processingEndedAt: null, returnedAt: null }, { id: 'j', sequence: 2 }).LoaiDoiTuong).toBe('3');
    const other = { ...business, applicant: { ...business.applicant, type: 'other_organisation' as const } };
    expect(toWireDossier({ dossier: other, status: 2, processingEndedAt: null, returnedAt: null }, { id: 'j', sequence: 2 }).LoaiDoiTuong).toBe('4');
    expect(toWireDossier({ dossier: { ...business, channel: 'postal' }, status: 2, processingEndedAt: null, returnedAt: null }, { id: 'j', sequence: 2 }).KenhThucHien).toBe('3');
  });

  it('maps a processing step for CapNhatTienDoHoSoMC', () => {
    const event: DossierProgressEvent = {
      kind: 'progress',
      officer: 'Quàng Văn Minh',
      title: 'Chuyên viên',
      department: 'Phòng Kinh tế, Hạ tầng và Đô thị',
      content: 'Thẩm định hồ sơ',
      startedAt: '2026-11-27T09:05:00+07:00',
      dueAt: '2026-11-28T17:00:00+07:00',
      at: '2026-11-27T10:30:00+07:00',
    };
    const item = toWireProgress({ code: dossier.code, status: 4, event }, { id: 'job-3', sequence: 3 });
    expect(item).toEqual({
      MaHoSo: 'H52.101.114-261127-0001',
      NguoiXuLy: 'Quàng Văn Minh',
      ChucDanh: 'Chuyên viên',
      ThoiDiemXuLy: '20261127103000',
      PhongBanXuLy: 'Phòng Kinh tế, Hạ tầng và Đô thị',
      NoiDungXuLy: 'Thẩm định hồ sơ',
      TrangThai: '4',
      NgayBatDau: '20261127090500',
      NgayKetThucTheoQuyDinh: '20261128170000',
      MaDongBo: 'job-3',
      SoThuTuDongBo: 3,
    });
    expect(wireProgressItem.parse(item)).toEqual(item);
    // NgayBatDau and NgayKetThucTheoQuyDinh may be empty.
    expect(wireProgressItem.safeParse({ ...item, NgayBatDau: '', NgayKetThucTheoQuyDinh: '' }).success).toBe(true);
  });
});
