import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { SlotSet } from '../../../src/store/memory/postings.js'
import { TextIndex } from '../../../src/store/memory/text-index.js'
import { textImage } from '../../../src/store/memory/text-image.js'
import { chatTerms } from '../../../src/store/memory/tokenizer.js'

const slotsOf = (set: SlotSet): number[] => { const out: number[] = []; set.forEach((s) => out.push(s)); return out }

describe('TextIndex', () => {
  it('finds, for every query, the chats in which each query word starts a word (sparse and dense terms alike)', () => {
    const VOCAB = ['alpha', 'alps', 'al', 'beta', 'bet', 'gamma', 'g', 'delta']
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(7000), fc.subarray(VOCAB, { minLength: 1 })), { minLength: 1, maxLength: 80 }),
      fc.array(fc.nat(7000), { maxLength: 40 }),
      fc.array(fc.constantFrom('a', 'al', 'alp', 'alpha', 'b', 'bet', 'g', 'gam', 'd', 'x', 'be', 'delta'), { minLength: 1, maxLength: 3 }),
      fc.integer({ min: 0, max: 6000 }),
      (docs, removals, query, denseCount) => {
        const index = new TextIndex()
        const model = new Map<number, Set<string>>()
        // Many chats with "common": dense enough to become a bit set, and sometimes sparse again.
        for (let slot = 0; slot < denseCount; slot++) {
          const terms = new Set(['common', ...(slot % 3 === 0 ? ['alpha'] : []), ...(slot % 5 === 0 ? ['gamma'] : [])])
          index.add(slot, terms)
          model.set(slot, terms)
        }
        for (const [slot, terms] of docs) {
          const before = model.get(slot)
          const after = new Set(terms)
          if (before === undefined) index.add(slot, after)
          else index.replace(slot, { title: [...before].join(' '), description: '' }, { title: [...after].join(' '), description: '' })
          model.set(slot, after)
        }
        for (const slot of removals) {
          const terms = model.get(slot)
          if (terms !== undefined) { index.remove(slot, terms); model.delete(slot) }
        }
        for (let slot = 0; slot < denseCount; slot += 2) {
          const terms = model.get(slot)
          if (terms !== undefined) { index.remove(slot, terms); model.delete(slot) }
        }
        for (const q of [query, ['common', ...query], ['common']]) {
          const expected = [...model].filter(([, terms]) => q.every((w) => [...terms].some((t) => t.startsWith(w)))).map(([s]) => s).sort((a, b) => a - b)
          const set = index.match(q)
          expect(slotsOf(set)).toEqual(expected)
          expect(set.size).toBe(expected.length)
          for (const slot of [0, 1, 6999, ...expected.slice(0, 5)]) expect(set.has(slot)).toBe(expected.includes(slot))
        }
        expect(index.termCount).toBe(new Set([...model.values()].flatMap((t) => [...t])).size)
      }
    ), { numRuns: 60 })
  })

  it('keeps, through chats added, changed (title, description or both) and removed, exactly the terms of each chat\'s current text', () => {
    const WORDS = ['Alpha', 'alpha', 'alps', 'Café', 'cafe', 'beta', 'b2', 'common', '日本', '𝒳ray', 'snake_case']
    const TEXT = fc.array(fc.constantFrom(...WORDS), { maxLength: 4 }).map((ws) => ws.join(' '))
    fc.assert(fc.property(
      fc.array(fc.tuple(fc.nat(9), fc.option(TEXT, { nil: undefined }), fc.option(TEXT, { nil: undefined }), fc.boolean()), { minLength: 1, maxLength: 60 }),
      fc.nat(5000),
      (writes, dense) => {
        const index = new TextIndex()
        const texts = new Map<number, { title: string, description: string }>()
        // Slots 10 and up make "common" and "alpha" dense (bit sets) in some runs.
        for (let slot = 10; slot < 10 + dense; slot++) {
          const text = { title: 'common', description: slot % 2 === 0 ? 'alpha' : '' }
          index.add(slot, chatTerms(text.title, text.description))
          texts.set(slot, text)
        }
        for (const [slot, title, description, drop] of writes) {
          const before = texts.get(slot)
          if (before === undefined) {
            const text = { title: title ?? '', description: description ?? '' }
            index.addText(slot, text)
            texts.set(slot, text)
          } else if (drop) {
            index.removeText(slot, before)
            texts.delete(slot)
          } else {
            const after = { title: title ?? before.title, description: description ?? before.description }
            index.replace(slot, before, after)
            texts.set(slot, after)
          }
        }
        // Exact: the same terms, each with the same slots, as an index made from the final texts.
        const fresh = new TextIndex()
        for (const [slot, text] of texts) fresh.add(slot, chatTerms(text.title, text.description))
        expect(index.termCount).toBe(fresh.termCount)
        for (const term of ['alpha', 'alps', 'al', 'cafe', 'beta', 'b2', 'b', 'common', '日本', '𝒳ray', 'snake', 'case', 'x']) {
          expect(slotsOf(index.match([term]))).toEqual(slotsOf(fresh.match([term])))
        }
      }
    ), { numRuns: 80 })
  })

  it('builds in one go (recovery) the index that adding one chat at a time builds, then takes writes as usual', () => {
    const TEXT = fc.array(fc.constantFrom('Alpha', 'alps', 'al', 'Café', 'cafe', 'naïve', 'beta', 'b2', 'common', '日本', '𝒳ray', 'snake_case'), { maxLength: 4 }).map((ws) => ws.join(' '))
    fc.assert(fc.property(
      fc.array(fc.option(fc.record({ title: TEXT, description: TEXT }), { nil: undefined }), { maxLength: 60 }),
      fc.integer({ min: 0, max: 5000 }),
      fc.array(fc.constantFrom('a', 'al', 'alp', 'cafe', 'b', 'common', 'naive', '日', '𝒳', 'snake', 'case', 'x'), { minLength: 1, maxLength: 2 }),
      (given, dense, query) => {
        const chats = [...Array.from({ length: dense }, (_, i) => ({ title: 'common', description: i % 3 === 0 ? 'alpha' : '' })), ...given]
        const one = new TextIndex()
        chats.forEach((c, slot) => { if (c !== undefined) one.add(slot, chatTerms(c.title, c.description)) })
        const bulk = new TextIndex()
        bulk.load(chats, chats.length)
        expect(bulk.termCount).toBe(one.termCount)
        for (const q of [query, ['common', ...query], ['alp']]) expect(slotsOf(bulk.match(q))).toEqual(slotsOf(one.match(q)))
        const next = chats.length + 1
        bulk.add(next, new Set(['xylophone', 'alpine']))
        bulk.remove(0, chatTerms(chats[0]?.title ?? '', chats[0]?.description ?? ''))
        expect(slotsOf(bulk.match(['xy']))).toEqual([next])
        expect(slotsOf(bulk.match(['alpin']))).toEqual([next])
        expect(bulk.match(['alp']).has(0)).toBe(false)
      }
    ), { numRuns: 80 })
  })

  it('builds in one go a dictionary of thousands of words, each found again after its table grew', () => {
    const chats = Array.from({ length: 6000 }, (_, i) => ({ title: `Chat W${i} w${i % 1500}`, description: i % 2 === 0 ? `note ${i % 7}` : '' }))
    const one = new TextIndex()
    chats.forEach((c, slot) => { one.add(slot, chatTerms(c.title, c.description)) })
    const bulk = new TextIndex()
    bulk.load(chats, chats.length)
    expect(bulk.termCount).toBe(one.termCount)
    for (const q of ['w1', 'w12', 'w1499', 'w5999', 'chat', 'note', 'n', 'w4']) expect(slotsOf(bulk.match([q]))).toEqual(slotsOf(one.match([q])))
  })

  it('loads into an index whose words were all removed, and takes new words after', () => {
    const index = new TextIndex()
    index.add(0, ['zeta', 'eta'])
    index.remove(0, ['zeta', 'eta'])
    index.load([{ title: 'alpha beta', description: '' }], 1)
    index.add(1, ['gamma'])
    expect(index.termCount).toBe(3)
    for (const [word, slots] of [['alpha', [0]], ['beta', [0]], ['gamma', [1]], ['zeta', []]] as const) expect(slotsOf(index.match([word]))).toEqual(slots)
  })

  it('keeps a dictionary of thousands of words through adds, removes and re-adds', () => {
    const index = new TextIndex()
    const model = new Map<number, string[]>()
    const put = (slot: number, terms: string[]): void => { index.add(slot, terms); model.set(slot, terms) }
    const drop = (slot: number): void => { index.remove(slot, model.get(slot)!); model.delete(slot) }
    for (let i = 0; i < 5000; i++) put(i, [`w${i}`, `k${i % 7}`])
    for (let i = 0; i < 5000; i += 3) drop(i)
    for (let i = 0; i < 5000; i += 6) put(i, [`w${i}`, `x${i}`])
    for (let i = 1; i < 5000; i += 3) drop(i)
    for (const prefix of ['w', 'w1', 'w12', 'w4999', 'w3', 'x', 'x12', 'k3', 'k', 'z']) {
      const expected = [...model].filter(([, terms]) => terms.some((t) => t.startsWith(prefix))).map(([s]) => s).sort((a, b) => a - b)
      expect(slotsOf(index.match([prefix]))).toEqual(expected)
    }
    expect(index.termCount).toBe(new Set([...model.values()].flat()).size)
  })

  it('saves itself as an image (dense terms, pending and dead ones) that loads into an index answering the same, which then takes writes', async () => {
    const index = new TextIndex()
    const model = new Map<number, string[]>()
    const put = (slot: number, terms: string[]): void => { index.add(slot, terms); model.set(slot, terms) }
    const drop = (slot: number): void => { index.remove(slot, model.get(slot)!); model.delete(slot) }
    for (let i = 0; i < 6000; i++) put(i, [`w${i}`, `k${i % 7}`, 'all', ...(i % 2 === 0 ? ['even'] : [])])
    for (let i = 0; i < 6000; i += 3) drop(i)
    for (let i = 0; i < 600; i += 6) put(i, [`w${i}`, `new${i}`, 'ñandú'])
    const capture = index.toImage()
    const image = await textImage(capture, 0)
    expect(image.dense.some((d) => d === 1)).toBe(true)
    index.add(7000, ['after']) // a write after the copy is not in it
    const loaded = new TextIndex()
    loaded.loadImage(image, 7001)
    index.remove(7000, ['after'])
    expect(loaded.termCount).toBe(index.termCount)
    for (const prefix of ['w', 'w1', 'w12', 'w5999', 'k3', 'k', 'all', 'even', 'new', 'ñ', 'after', 'z']) {
      expect(slotsOf(loaded.match([prefix]))).toEqual(slotsOf(index.match([prefix])))
    }
    for (const i of [1, 2, 6]) { loaded.remove(i, model.get(i)!); index.remove(i, model.get(i)!) }
    loaded.add(6001, ['w1x', 'even'])
    index.add(6001, ['w1x', 'even'])
    for (const prefix of ['w1', 'even', 'all', 'k']) expect(slotsOf(loaded.match([prefix]))).toEqual(slotsOf(index.match([prefix])))
  })

  it('refuses an image that does not hold together', () => {
    const index = new TextIndex()
    index.add(0, ['a', 'b'])
    index.add(2, ['b'])
    const image = { terms: ['a', 'b'], ends: Int32Array.of(1, 3), dense: new Uint8Array(2), data: Int32Array.of(0, 0, 2) }
    const load = (changes: Partial<typeof image>, universe = 3, filled?: Uint32Array): void => { new TextIndex().loadImage({ ...image, ...changes }, universe, filled) }
    expect(() => { load({}) }).not.toThrow()
    expect(() => { load({ terms: ['b', 'a'] }) }).toThrow(/out of order/)
    expect(() => { load({ ends: Int32Array.of(1, 2) }) }).toThrow(/do not agree/)
    expect(() => { load({ data: Int32Array.of(0, 2, 0) }) }).toThrow(/out of order, out of range or empty/)
    expect(() => { load({}, 2) }).toThrow(/out of range/)
    expect(() => { load({}, 3, Uint32Array.of(1)) }).toThrow(/empty/)
    expect(() => { load({ dense: Uint8Array.of(0, 1), ends: Int32Array.of(1, 2), data: Int32Array.of(0, 4) }, 3, Uint32Array.of(1)) }).toThrow(/name an empty slot/)
    expect(() => { load({ dense: Uint8Array.of(0, 1), ends: Int32Array.of(1, 4), data: Int32Array.of(0, 4, 0, 1) }) }).toThrow(/name an empty slot/)
    expect(() => { load({ dense: Uint8Array.of(0, 1), ends: Int32Array.of(1, 4), data: Int32Array.of(0, 4, 0, 0) }) }).not.toThrow()
    const twice = new TextIndex()
    twice.loadImage(image, 3)
    expect(() => { twice.loadImage(image, 3) }).toThrow(/needs an empty index/)
  })

  it('answers an empty set for a word nothing starts, and for no words', () => {
    const index = new TextIndex()
    index.add(0, ['hello'])
    expect(index.match(['world']).size).toBe(0)
    expect(index.match([]).size).toBe(0)
    index.remove(0, ['hello', 'unknown'])
    expect(index.termCount).toBe(0)
  })
})
