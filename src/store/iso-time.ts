const DAY_MS = 86_400_000
const PAD2: string[] = Array.from({ length: 60 }, (_, i) => String(i).padStart(2, '0'))
const PAD3: string[] = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))
/** Dates ("2026-11-26T") by day number; a chat's two dates are nearly always of a few recent days. */
const days = new Map<number, string>()
const MAX_DAYS = 4096
/** 10000-01-01: from there on (and before 1970, or for fractions) the built-in formatter is used. */
const YEAR_10000 = 253_402_300_800_000

/**
 * `new Date(ms).toISOString()`, cheaper: the date part comes from a small cache
 * by day, the time of day is formatted from tables. Every answer formats two of these per chat.
 */
export function isoTime (ms: number): string {
  if (!Number.isInteger(ms) || ms < 0 || ms >= YEAR_10000) return new Date(ms).toISOString()
  const day = Math.floor(ms / DAY_MS)
  let date = days.get(day)
  if (date === undefined) {
    date = new Date(day * DAY_MS).toISOString().slice(0, -13)
    if (days.size >= MAX_DAYS) days.clear()
    days.set(day, date)
  }
  let rest = ms - day * DAY_MS
  const millis = rest % 1000
  rest = (rest - millis) / 1000
  const seconds = rest % 60
  rest = (rest - seconds) / 60
  const minutes = rest % 60
  const hours = (rest - minutes) / 60
  return `${date}${PAD2[hours]!}:${PAD2[minutes]!}:${PAD2[seconds]!}.${PAD3[millis]!}Z`
}
