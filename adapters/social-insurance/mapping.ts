import type { SocialInsuranceRecord } from './registry.ts';
import { toVietnamIso, wireDateToIso } from '../../src/core/time.ts';
import { MappingError } from '../mapping-error.ts';
import { PARTICIPATION_STATUSES, type WireCard, type WireInsured } from './inferred.ts';

export { MappingError };

/** The calendar date in Vietnam at this instant, `yyyy-MM-dd`. */
export function vietnamDate(at: Date): string {
  return toVietnamIso(at).slice(0, 10);
}

/** Whether a card is valid on `today` (`yyyy-MM-dd`), both ends included. */
export function isCardValidOn(card: { validFrom: string; validTo: string }, today: string): boolean {
  return card.validFrom <= today && today <= card.validTo;
}

function toCard(wire: WireCard, today: string): NonNullable<SocialInsuranceRecord['healthInsuranceCard']> {
  const validFrom = wireDateToIso(wire.giaTriTu);
  const validTo = wireDateToIso(wire.giaTriDen);
  if (!validFrom || !validTo) throw new MappingError('the card validity dates are not yyyyMMdd dates');
  if (validFrom > validTo) throw new MappingError('the card expires before it starts');
  return { number: wire.soThe, validFrom, validTo, valid: isCardValidOn({ validFrom, validTo }, today) };
}

/**
 * The system's record as our API returns it. `at` is the moment of retrieval: it gives
 * `retrievedAt`, and the card's validity is judged on that day in Vietnam. Unknown codes are
 * refused, not guessed.
 */
export function toSocialInsuranceRecord(wire: WireInsured, at: Date): SocialInsuranceRecord {
  const participationStatus = PARTICIPATION_STATUSES[wire.trangThaiThamGia];
  if (!participationStatus) throw new MappingError(`unknown participation status code ${wire.trangThaiThamGia}`);
  return {
    insuranceCode: wire.maSoBhxh,
    ...(wire.soDinhDanh ? { idNumber: wire.soDinhDanh } : {}),
    fullName: wire.hoTen.normalize('NFC'),
    participationStatus,
    employer: wire.donVi ? { code: wire.donVi.ma, name: wire.donVi.ten.normalize('NFC') } : null,
    healthInsuranceCard: wire.theBhyt ? toCard(wire.theBhyt, vietnamDate(at)) : null,
    retrievedAt: toVietnamIso(at),
  };
}
