/** Vietnam has kept UTC+07:00 all year since 1975; the API speaks that offset. */
const OFFSET_MS = 7 * 60 * 60 * 1000;

/** ISO 8601 with the +07:00 offset and whole seconds, e.g. 2026-11-28T06:42:51+07:00. */
export function toVietnamIso(date: Date): string {
  return new Date(date.getTime() + OFFSET_MS).toISOString().slice(0, 19) + '+07:00';
}

/** The calendar day (yyyy-MM-dd) an instant falls on in Vietnam. */
export const vietnamDay = (date: Date): string => toVietnamIso(date).slice(0, 10);

/** The month (yyyy-MM) an instant falls in, in Vietnam. */
export const vietnamMonth = (date: Date): string => toVietnamIso(date).slice(0, 7);

/** A calendar day (yyyy-MM-dd) `days` later (earlier when negative). */
export const addDays = (day: string, days: number): string => new Date(Date.parse(`${day}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/**
 * The day `years` after a calendar day (yyyy-MM-dd): the same month and number, or the month's
 * last day when it has no such number (29 February in a common year), as periods in years are
 * counted.
 */
export function anniversary(day: string, years: number): string {
  const [y, m, d] = day.split('-').map(Number) as [number, number, number];
  const daysInMonth = new Date(Date.UTC(y + years, m, 0)).getUTCDate();
  return new Date(Date.UTC(y + years, m - 1, Math.min(d, daysInMonth))).toISOString().slice(0, 10);
}

/**
 * An instant given as text (in any offset) as the API answers every time: +07:00, whole seconds.
 * Text that is not an instant is left as it is.
 */
export function answeredInstant<T extends string | null>(value: T): T {
  if (value === null) return value;
  const t = Date.parse(value);
  return (Number.isNaN(t) ? value : toVietnamIso(new Date(t))) as T;
}

/** `yyyyMMdd` (wire) to `yyyy-MM-dd`, or null when it is not a real calendar date. */
export function wireDateToIso(value: string): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})$/.exec(value);
  if (!m) return null;
  const iso = `${m[1]}-${m[2]}-${m[3]}`;
  const parsed = new Date(`${iso}T00:00:00Z`);
  return !Number.isNaN(parsed.getTime()) && parsed.toISOString().startsWith(iso) ? iso : null;
}

/** `yyyy-MM-dd` to `yyyyMMdd`. */
export function isoDateToWire(value: string): string {
  return value.replaceAll('-', '');
}

/** `yyyyMMddHHmmss` in Vietnam time (the national portal's format) to ISO 8601 with +07:00, or null. */
export function wireDateTimeToIso(value: string): string | null {
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m;
  if (Number(h) > 23 || Number(mi) > 59 || Number(s) > 59 || !wireDateToIso(`${y}${mo}${d}`)) return null;
  return `${y}-${mo}-${d}T${h}:${mi}:${s}+07:00`;
}

/** An instant as `yyyyMMddHHmmss` in Vietnam time. */
export function toWireDateTime(date: Date): string {
  return toVietnamIso(date).slice(0, 19).replace(/[-:T]/g, '');
}
