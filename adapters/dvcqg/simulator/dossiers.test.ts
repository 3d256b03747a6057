import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { toWireDossier, toWireProgress } from '../mapping.ts';
import type { Dossier } from '../../../src/core/dossiers/port.ts';
import { createDossierDesk } from './dossiers.ts';
import { UNKNOWN } from '../../../src/sandbox/personas.ts';

const dossier = JSON.parse(readFileSync(new URL('../fixtures/dossier.json', import.meta.url), 'utf8')) as Dossier;

const sync = (status: number, sequence: number, isUpdating: 'True' | 'False') => ({
  service: 'DongBoHoSoMC',
  isUpdating,
  data: [toWireDossier({ dossier, status: status as 1, processingEndedAt: null, returnedAt: null }, { id: `d${sequence}`, sequence })],
});
const step = (sequence: number) => ({
  service: 'CapNhatTienDoHoSoMC',
  data: [toWireProgress({ code: dossier.code, status: 4, event: { kind: 'progress', officer: 'Lò Văn Tuấn', title: 'Chuyên viên', department: 'Phòng Kinh tế', content: 'Thẩm định', startedAt: '2026-11-27T09:00:00+07:00', dueAt: '2026-11-28T17:00:00+07:00', at: '2026-11-27T10:00:00+07:00' } }, { id: `d${sequence}`, sequence })],
});

const OK = { error_code: '0', message: 'Thành công' };

describe('dvcqg simulator: dossier services', () => {
  it('knows a dossier only once it was created (an empty result before), and refuses an update of an unknown one', () => {
    const desk = createDossierDesk();
    expect(desk.handle('TraCuuHoSo', { mahoso: dossier.code })?.body).toEqual({ ...OK, result: [] });
    expect(desk.handle('DongBoHoSoMC', sync(1, 1, 'True'))?.body).toMatchObject({ error_code: '404' });
    expect(desk.handle('CapNhatTienDoHoSoMC', step(1))?.body).toMatchObject({ error_code: '404' });
    // The dossier services answer a code and a message, nothing else.
    expect(desk.handle('DongBoHoSoMC', sync(1, 1, 'False'))?.body).toEqual(OK);
    expect(desk.handle('TraCuuHoSo', { mahoso: dossier.code })?.body).toEqual({ ...OK, result: [{ MaHoSo: dossier.code, TrangThaiHoSo: '1' }] });
    // The older parameter name is accepted too.
    expect(desk.handle('TraCuuHoSo', { MaHoSo: dossier.code })?.body).toEqual({ ...OK, result: [{ MaHoSo: dossier.code, TrangThaiHoSo: '1' }] });
    // Creating it again as new, with another change, is refused with "đã tồn tại".
    expect(desk.handle('DongBoHoSoMC', sync(2, 2, 'False'))?.body).toMatchObject({ error_code: '400', message: expect.stringContaining('đã tồn tại') });
    expect(desk.handle('CapNhatTienDoHoSoMC', step(2))?.body).toEqual(OK);
  });

  it('holds each change once: a repeat is answered as success and counted, a gap or reversal counted as out of order', () => {
    const desk = createDossierDesk();
    desk.handle('DongBoHoSoMC', sync(1, 1, 'False'));
    expect(desk.handle('DongBoHoSoMC', sync(1, 1, 'True'))?.body).toEqual(OK);
    desk.handle('DongBoHoSoMC', sync(2, 2, 'True'));
    desk.handle('CapNhatTienDoHoSoMC', step(3));
    expect(desk.handle('CapNhatTienDoHoSoMC', step(3))?.body).toEqual(OK);
    desk.handle('DongBoHoSoMC', sync(4, 5, 'True'));
    desk.handle('DongBoHoSoMC', sync(4, 4, 'True'));
    const report = desk.report('GET', '/sandbox/dossiers')!.body as { totals: Record<string, number>; dossiers: { sequences: number[] }[] };
    expect(report.totals).toEqual({ dossiers: 1, held: 5, duplicates: 2, outOfOrder: 2 });
    expect(report.dossiers[0]!.sequences).toEqual([1, 2, 3, 5, 4]);
    const one = desk.report('GET', `/sandbox/dossiers/${dossier.code}`)!.body as { held: { service: string }[]; status: string; item: Record<string, unknown> };
    expect(one.held.map((h) => h.service)).toEqual(['DongBoHoSoMC', 'DongBoHoSoMC', 'CapNhatTienDoHoSoMC', 'DongBoHoSoMC', 'DongBoHoSoMC']);
    expect(one.status).toBe('4');
    expect(one.item).toMatchObject({ MaHoSo: dossier.code, TrangThaiHoSo: '4' });
    expect(desk.report('GET', '/sandbox/dossiers/H52-261127-0099')!.status).toBe(404);
    expect(desk.report('DELETE', '/sandbox/dossiers')!.status).toBe(200);
    expect(desk.records()).toEqual([]);
  });

  it('takes items without the gateway marks, as another one-stop system sends them, in arrival order', () => {
    const desk = createDossierDesk();
    const { MaDongBo: _id, SoThuTuDongBo: _seq, ...unmarked } = sync(2, 1, 'False').data[0]!;
    expect(desk.handle('DongBoHoSoMC', { service: 'DongBoHoSoMC', isUpdating: 'False', data: [unmarked] })?.body).toEqual(OK);
    expect(desk.handle('DongBoHoSoMC', { service: 'DongBoHoSoMC', isUpdating: 'True', data: [{ ...unmarked, TrangThaiHoSo: '9' }] })?.body).toEqual(OK);
    expect(desk.records()[0]).toMatchObject({ status: '9', duplicates: 0, outOfOrder: 0 });
    expect(desk.records()[0]!.held.map((h) => h.sequence)).toEqual([1, 2]);
  });

  it('validates what it is sent', () => {
    const desk = createDossierDesk();
    const bad = sync(1, 1, 'False');
    expect(desk.handle('DongBoHoSoMC', { ...bad, isUpdating: true })?.body).toMatchObject({ error_code: '400' });
    expect(desk.handle('DongBoHoSoMC', { ...bad, data: [] })?.body).toMatchObject({ error_code: '400' });
    expect(desk.handle('DongBoHoSoMC', { ...bad, data: [{ ...bad.data[0], TrangThaiHoSo: '11' }] })?.body).toMatchObject({ error_code: '400' });
    expect(desk.handle('DongBoHoSoMC', { ...bad, data: [{ ...bad.data[0], NgayTiepNhan: '2026-11-27' }] })?.body).toMatchObject({ error_code: '400' });
    expect(desk.handle('DongBoHoSoMC', { ...bad, data: [{ ...bad.data[0], LoaiDoiTuong: '5' }] })?.body).toMatchObject({ error_code: '400' });
    expect(desk.handle('DongBoHoSoMC', { ...bad, data: [{ ...bad.data[0], DuocThanhToanTrucTuyen: '3' }] })?.body).toMatchObject({ error_code: '400' });
    // Gia is text on the wire.
    expect(desk.handle('DongBoHoSoMC', { ...bad, data: [{ ...bad.data[0], DanhSachLePhi: [{ TenPhiLePhi: 'Lệ phí', Gia: 100000 }] }] })?.body).toMatchObject({ error_code: '400' });
    expect(desk.handle('DongBoHoSoMC', { ...bad, data: [{ ...bad.data[0], DinhDanhCHS: [{ LoaiDinhDanh: '1', SoDinhDanh: '14192004567' }] }] })?.body).toMatchObject({ error_code: '400' });
    expect(desk.handle('TraCuuHoSo', {})?.body).toMatchObject({ error_code: '400' });
    // Sandbox-only: a dossier of the procedure no simulator knows is refused as invalid.
    expect(desk.handle('DongBoHoSoMC', { ...bad, data: [{ ...bad.data[0], MaTTHC: UNKNOWN.procedureCode }] })?.body).toEqual({ error_code: '400', message: 'Mã thủ tục hành chính không tồn tại' });
    expect(desk.handle('LayThuTuc', {})).toBeUndefined();
    expect(desk.records()).toEqual([]);
  });
});
