import fc from 'fast-check'
import { PRIORITIES, SORT_FIELDS, type ChatInput, type SortKey } from '../../src/store/types.js'

/** The random writes and sorts the store's property tests (the query engine's, the naive model's) draw from. */
export const BASE = Date.UTC(2025, 0, 1)

/** Words that share prefixes, differ by case and accents, and leave the Basic Multilingual Plane. */
export const WORD = fc.constantFrom('Café', 'cafe', 'CAFÉS', 'Project', 'proj', 'update', 'upd', 'snake_case', 'naïve', 'Straße',
  '日本語', '𝒳ray', 'ｆｕｌｌ', 'z', 'Z', 'a1', '42', 'éa', 'Ωmega', '\uE000x', 'ǅemal')
export const TEXT = fc.array(WORD, { minLength: 1, maxLength: 3 }).chain((ws) =>
  fc.constantFrom(' ', '-', ', ', '_').map((sep) => ws.join(sep)))
export const INPUT: fc.Arbitrary<ChatInput> = fc.record({
  title: TEXT,
  description: fc.option(TEXT, { nil: undefined }),
  priority: fc.option(fc.constantFrom(...PRIORITIES), { nil: undefined }),
  isActive: fc.option(fc.boolean(), { nil: undefined })
}, { requiredKeys: ['title'] })

export type Command =
  | { kind: 'create', input: ChatInput }
  | { kind: 'update', pick: number, patch: Partial<ChatInput> }
  | { kind: 'replace', pick: number, input: ChatInput }
  | { kind: 'delete', pick: number }
  | { kind: 'tick', ms: number }

export const COMMAND: fc.Arbitrary<Command> = fc.oneof(
  { weight: 5, arbitrary: INPUT.map((input) => ({ kind: 'create' as const, input })) },
  { weight: 2, arbitrary: fc.record({ pick: fc.nat(), patch: INPUT.map(({ title, ...rest }) => ({ ...rest, ...(title.length % 2 === 0 ? { title } : {}) })) }).map((c) => ({ kind: 'update' as const, ...c })) },
  { weight: 1, arbitrary: fc.record({ pick: fc.nat(), input: INPUT }).map((c) => ({ kind: 'replace' as const, ...c })) },
  { weight: 2, arbitrary: fc.nat().map((pick) => ({ kind: 'delete' as const, pick })) },
  { weight: 2, arbitrary: fc.integer({ min: 0, max: 2 }).map((ms) => ({ kind: 'tick' as const, ms })) }
)

export const SORT: fc.Arbitrary<SortKey[] | undefined> = fc.option(
  fc.shuffledSubarray([...SORT_FIELDS], { minLength: 1 }).chain((fields) =>
    fc.tuple(...fields.map((field) => fc.boolean().map((descending) => ({ field, descending }))))),
  { nil: undefined })

/** Mostly absent, so that most queries match something. */
export function sometimes<T> (arb: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: arb })
}

export function clean<T extends object> (o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T
}
