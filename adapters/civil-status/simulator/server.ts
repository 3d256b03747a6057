import type { RequestListener } from 'node:http';
import type { SimulatorDeps } from '../../module.ts';
import { createSignedJsonSimulator } from '../../signed-json/simulator.ts';
import { AGENCY_HEADER, BIRTH_PATH, HEALTH_PATH, NOT_FOUND_CODE, SIGNATURE_REFUSED_CODE } from '../inferred.ts';
import { births } from './births.ts';

/**
 * The civil-status database's stand-in: REST/JSON over real HTTP, with the sandbox's faults, in
 * the inferred profile (README.md): every answer signed (RFC 9421, bound to the request it
 * answers), every request but the health probe required to carry the gateway's signature.
 */
export function createCivilStatusSimulator(deps: SimulatorDeps): RequestListener {
  return createSignedJsonSimulator(deps, {
    id: 'civil-status',
    healthPath: HEALTH_PATH,
    agencyHeader: AGENCY_HEADER,
    signatureRefusedCode: SIGNATURE_REFUSED_CODE,
    path: BIRTH_PATH,
    lookup: (idNumber) => {
      const birth = births.get(idNumber);
      if (!birth) return { status: 404, body: { MaLoi: NOT_FOUND_CODE, MoTa: 'Không tìm thấy thông tin đăng ký khai sinh' } };
      return { status: 200, body: { MaLoi: '00', MoTa: 'Thành công', DuLieu: birth } };
    },
  });
}
