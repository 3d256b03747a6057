import { describe, expect, it } from 'vitest';
import type { Dossier, DossierProgressEvent } from '../../src/core/dossiers/port.ts';
import { fixtureReader } from '../contract/test-kit.ts';
import { toWireDossier, toWireProgress, wireDossierItem, wireProgressItem } from './mapping.ts';

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
      MaDoiTuong: '014192004567',
      Email: 'camthihoa@example.com',
      SoDienThoai: '0912345678',
      TrichYeuHoSo: 'Đăng ký thành lập hộ kinh doanh Quán ăn Bản Mòng',
      NgayTiepNhan: '20261127084210',
      NgayHenTra: '20261202170000',
      TrangThaiHoSo: '1',
      NgayTra: '',
      HinhThuc: '1',
      NgayKetThucXuLy: '',
      DonViXuLy: 'Ủy ban nhân dân phường Tô Hiệu',
      TaiLieuNop: [{ TepDinhKemId: 'afaa286b', TenTepDinhKem: 'Giay-de-nghi.pdf', MaThanhPhanHoSo: 'TP01', DuongDanTaiTepTin: 'https://motcua.sonla.gov.vn/files/afaa286b.pdf', DuocSoHoa: '1', DuocTaiSuDung: '0' }],
      DanhSachLePhi: [{ TenPhiLePhi: 'Lệ phí đăng ký hộ kinh doanh', MucPhi: 100000, DaThanhToan: '1' }],
      DanhSachHoSoBoSung: [],
      DanhSachGiayToKetQua: [],
      KenhThucHien: '2',
      DuocThanhToanTrucTuyen: '1',
      TaiKhoanDuocXacThucVoiVNeID: '1',
      LoaiDinhDanh: '1',
      SoDinhDanh: '014192004567',
      MaDongBo: 'job-1',
      SoThuTuDongBo: 1,
    });
    // What the gateway sends is what the simulator's schema accepts.
    expect(wireDossierItem.parse(item)).toEqual(item);
  });

  it('carries the status, when processing ended and when the result was returned; converts other offsets to Vietnam time', () => {
    const item = toWireDossier({ dossier, status: 10, processingEndedAt: '2026-12-01T08:20:00Z', returnedAt: '2026-12-02T09:00:00+07:00' }, { id: 'job-9', sequence: 9 });
    expect(item).toMatchObject({ TrangThaiHoSo: '10', NgayKetThucXuLy: '20261201152000', NgayTra: '20261202090000', SoThuTuDongBo: 9, MaDongBo: 'job-9' });
  });

  it('maps a business applicant in person, without contact details, attachments or fees', () => {
    const business: Dossier = { ...dossier, applicant: { type: 'business', identifier: '5500123457', name: 'Công ty TNHH Chè Mộc Châu' }, channel: 'in_person', onlinePayment: undefined, vneidVerified: false, attachments: undefined, fees: undefined };
    const item = toWireDossier({ dossier: business, status: 2, processingEndedAt: null, returnedAt: null }, { id: 'j', sequence: 2 });
    expect(item).toMatchObject({ LoaiDoiTuong: '2', LoaiDinhDanh: '2', MaDoiTuong: '5500123457', SoDinhDanh: '5500123457', Email: '', SoDienThoai: '', KenhThucHien: '1', HinhThuc: '0', DuocThanhToanTrucTuyen: '0', TaiKhoanDuocXacThucVoiVNeID: '0', TaiLieuNop: [], DanhSachLePhi: [] });
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
  });
});
