import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SORT_FIELDS } from '../../../src/store/types.js'
import { normalizedJson, type NormalizedQuery } from '../../../src/store/memory/query-planner.js'

const BOUND = fc.oneof(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.constantFrom(0, -0, 1e21))
const QUERY: fc.Arbitrary<NormalizedQuery> = fc.record({
  priorityMask: fc.integer({ min: 1, max: 7 }),
  isActive: fc.option(fc.boolean(), { nil: undefined }),
  hasRange: fc.boolean(),
  from: fc.oneof(BOUND, fc.constant(-Infinity)),
  to: fc.oneof(BOUND, fc.constant(Infinity)),
  words: fc.option(fc.array(fc.string({ unit: 'binary' }), { minLength: 1, maxLength: 3 }), { nil: undefined }),
  sort: fc.shuffledSubarray([...SORT_FIELDS], { minLength: 1 }).chain((fields) =>
    fc.tuple(...fields.map((field) => fc.boolean().map((descending) => ({ field, descending })))))
})

describe('normalizedJson', () => {
  it('is JSON.stringify of the normalized query, so fingerprints stay those of earlier versions', () => {
    fc.assert(fc.property(QUERY, (q) => {
      expect(normalizedJson(q)).toBe(JSON.stringify({
        p: q.priorityMask,
        a: q.isActive ?? null,
        f: q.hasRange && q.from !== -Infinity ? q.from : null,
        t: q.hasRange && q.to !== Infinity ? q.to : null,
        q: q.words ?? null,
        s: q.sort.map((k) => (k.descending ? '-' : '') + k.field)
      }))
    }), { numRuns: 500 })
  })
})
