import { people, type Person } from '../../../src/sandbox/personas.ts';
import { isoDateToWire } from '../../../src/core/time.ts';
import { toWireAddress } from '../../signed-json/simulator.ts';
import type { WireBirth } from '../inferred.ts';

const DAY = 86_400_000;

/**
 * The sandbox's birth registrations: one per sandbox person, derived from what the population
 * database holds of them (name, gender, date and place of birth, parents), registered at the
 * commune where the birth was, a week to two months after it.
 */
export function birthOf(person: Person, serial: number): WireBirth {
  const year = person.dateOfBirth.slice(0, 4);
  const registered = new Date(Date.parse(`${person.dateOfBirth}T00:00:00Z`) + (7 + (serial % 53)) * DAY).toISOString().slice(0, 10);
  const place = person.birthRegistrationPlace;
  const parent = (relative: Person['father']) => (relative ? { HoTen: relative.fullName, SoDinhDanh: relative.idNumber } : null);
  return {
    SoDinhDanh: person.idNumber,
    HoTen: person.fullName,
    GioiTinh: person.gender === 'male' ? '1' : '2',
    NgaySinh: isoDateToWire(person.dateOfBirth),
    NoiSinh: toWireAddress(place),
    DanToc: person.ethnicity,
    QuocTich: person.nationality,
    Cha: parent(person.father),
    Me: parent(person.mother),
    SoDangKy: `${serial + 1}/${year}`,
    QuyenSo: serial % 5 === 4 ? null : `01/${year}`,
    NgayDangKy: isoDateToWire(registered),
    CoQuanDangKy: `Ủy ban nhân dân ${place.commune || place.province}`,
  };
}

/** Every sandbox person's birth registration, by personal ID number. */
export const births: ReadonlyMap<string, WireBirth> = new Map(people.map((person, i) => [person.idNumber, birthOf(person, i)]));
