import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { stringHash } from '../../../src/store/memory/string-table.js'
import { chatTerms, fold, forEachWord, unicodeWords, words } from '../../../src/store/memory/tokenizer.js'

describe('words', () => {
  it.each([
    ['Café', ['cafe']],
    ['CAFÉ crème', ['cafe', 'creme']],
    ['snake_case', ['snake', 'case']],
    ['Project update!', ['project', 'update']],
    ['  --  ', []],
    ['naïve Ångström', ['naive', 'angstrom']],
    ['日本語 text', ['日本語', 'text']],
    ['v2.0-beta', ['v2', '0', 'beta']],
    ['İstanbul', ['istanbul']],
    ['𝒳ray', ['𝒳ray']],
    ['٣ arabic-indic digit', ['٣', 'arabic', 'indic', 'digit']]
  ])('splits %j into %j', (text, expected) => {
    expect(words(text)).toEqual(expected)
  })

  it('gives, on the ASCII fast path, the words the Unicode path gives', () => {
    const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)), maxLength: 40 })
    const mixed = fc.string({ unit: fc.constantFrom('a', 'Z', '9', ' ', '-', '_', 'é', 'É', 'ß', 'İ', '日', '𝒳', '\u0301', '٣', '\t'), maxLength: 20 })
    fc.assert(fc.property(fc.oneof(ascii, mixed, fc.string({ maxLength: 20 })), (text) => {
      expect(words(text)).toEqual(unicodeWords(text))
      forEachWord(text, (from, start, end, hash) => { expect(hash).toBe(stringHash(from.slice(start, end), 0, end - start)) })
    }), { numRuns: 2000 })
  })

  it('folds case and accents', () => {
    expect(fold('Ÿ É ß')).toBe('y e ß')
  })

  it('collects the distinct words of a title and a description', () => {
    expect([...chatTerms('Café cafe', 'CAFE bar')]).toEqual(['cafe', 'bar'])
  })
})
