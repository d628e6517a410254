import { describe, it, expect } from 'vitest'
import { StoreError, type InvalidField } from '../../src/store/errors.js'
import { chatFields, checkListQuery, checkPatch, checkVersion, codePointLength, DESCRIPTION_MAX, descriptionProblems, mergePatch, TITLE_MAX, titleProblems } from '../../src/store/rules.js'

/** An astral character: one code point, two UTF-16 units. */
const EMOJI = '😀'

function title (raw: string): { value: string, errors: InvalidField[] } {
  const value = raw.trim()
  return { value, errors: titleProblems(value).map((message) => ({ source: 'input', field: '/title', message })) }
}

function description (value: string): InvalidField[] {
  return descriptionProblems(value).map((message) => ({ source: 'input', field: '/description', message }))
}

/** The error a call throws; fails the test when it throws no StoreError. */
function thrownBy (call: () => unknown): StoreError {
  try { call() } catch (err) {
    expect(err).toBeInstanceOf(StoreError)
    return err as StoreError
  }
  throw new Error('did not throw')
}

describe('codePointLength', () => {
  it.each([
    ['', 0],
    ['abc', 3],
    ['é', 1],
    [EMOJI, 1],
    [`a${EMOJI}b`, 3],
    [EMOJI.repeat(5), 5],
    ['𝄞 clef', 6],
    // Lone surrogates count as one each, like the string iterator does.
    ['\ud83d', 1],
    ['\ude00', 1],
    ['\ude00\ud83d', 2],
    ['a\ud83d', 2]
  ])('%j has %i code points', (s, n) => {
    expect(codePointLength(s)).toBe(n)
    expect(codePointLength(s)).toBe(Array.from(s).length)
  })
})

describe('checkTitle', () => {
  it('trims white space as String.prototype.trim does, and keeps the rest as sent', () => {
    expect(title('  Project update \t\n')).toEqual({ value: 'Project update', errors: [] })
    expect(title('\u00a0\ufeffCafé <b>\u2003')).toEqual({ value: 'Café <b>', errors: [] })
  })

  it.each([
    ['empty', ''],
    ['spaces', '   '],
    ['white space of all kinds', ' \t\n\r\u00a0\u2028\ufeff ']
  ])('refuses a title that is %s', (_name, raw) => {
    expect(title(raw).errors).toEqual([{ source: 'input', field: '/title', message: 'must not be empty or only white space' }])
  })

  it('counts the length in code points, after the trim', () => {
    expect(title(EMOJI.repeat(TITLE_MAX)).errors).toEqual([])
    expect(title(`  ${EMOJI.repeat(TITLE_MAX)}  `).errors).toEqual([])
    expect(title('x'.repeat(TITLE_MAX)).errors).toEqual([])
    const tooLong = title(EMOJI.repeat(TITLE_MAX + 1)).errors
    expect(tooLong).toEqual([{ source: 'input', field: '/title', message: 'must NOT have more than 200 characters' }])
    expect(title('x'.repeat(TITLE_MAX + 1)).errors).toHaveLength(1)
  })

  it.each([
    ['NUL', 'a\u0000b'],
    ['U+001F', 'a\u001fb'],
    ['DEL', 'a\u007fb'],
    ['a newline inside', 'two\nlines'],
    ['a tab inside', 'a\tb'],
    ['only a control character', '\u0000']
  ])('refuses a control character: %s', (_name, raw) => {
    expect(title(raw).errors).toEqual([{ source: 'input', field: '/title', message: 'must not contain control characters' }])
  })

  it('reports every broken rule of a title', () => {
    expect(title(`\u0001${'x'.repeat(TITLE_MAX)}`).errors.map((e) => e.message)).toEqual([
      'must NOT have more than 200 characters',
      'must not contain control characters'
    ])
  })
})

describe('checkDescription', () => {
  it('allows an empty one, and \\n, \\r and \\t', () => {
    expect(description('')).toEqual([])
    expect(description('line one\r\nline two\n\tindented')).toEqual([])
  })

  it.each([
    ['BEL', 'ring \u0007'],
    ['NUL', '\u0000'],
    ['vertical tab', 'a\u000bb'],
    ['form feed', 'a\u000cb'],
    ['U+001F', '\u001f'],
    ['DEL', '\u007f']
  ])('refuses the control character %s', (_name, value) => {
    expect(description(value)).toEqual([
      { source: 'input', field: '/description', message: 'must not contain control characters other than \\n, \\r and \\t' }
    ])
  })

  it('allows 2000 code points and refuses 2001', () => {
    expect(description(EMOJI.repeat(DESCRIPTION_MAX))).toEqual([])
    expect(description(EMOJI.repeat(DESCRIPTION_MAX + 1))).toEqual([
      { source: 'input', field: '/description', message: 'must NOT have more than 2000 characters' }
    ])
    expect(description('x'.repeat(DESCRIPTION_MAX + 1))).toHaveLength(1)
  })

  it('is not trimmed: white space counts', () => {
    expect(description(' '.repeat(DESCRIPTION_MAX + 1))).toHaveLength(1)
  })
})

describe('chatFields', () => {
  it('trims the title and fills the defaults', () => {
    expect(chatFields({ title: '  Hi  ' })).toEqual({ title: 'Hi', description: '', priority: 'medium', isActive: true })
    expect(chatFields({ title: 'x', description: 'd', priority: 'high', isActive: false })).toEqual({ title: 'x', description: 'd', priority: 'high', isActive: false })
  })

  it('lists every broken rule at once', () => {
    const err = thrownBy(() => chatFields({ title: ' ', description: 'bell \u0007' }))
    expect(err.code).toBe('invalid')
    expect(err.fields.map((f) => [f.source, f.field])).toEqual([['input', '/title'], ['input', '/description']])
    expect(err.message).toBe('/title must not be empty or only white space, /description must not contain control characters other than \\n, \\r and \\t')
  })
})

describe('checkPatch and mergePatch', () => {
  it('keeps only the fields named, the title trimmed, and merges them over the current ones', () => {
    const patch = checkPatch({ title: ' new ', isActive: false })
    expect(patch).toEqual({ title: 'new', isActive: false })
    expect(mergePatch({ title: 'old', description: 'd', priority: 'low', isActive: true }, patch)).toEqual({ title: 'new', description: 'd', priority: 'low', isActive: false })
  })

  it('refuses a broken field', () => {
    expect(thrownBy(() => checkPatch({ description: 'x'.repeat(DESCRIPTION_MAX + 1) })).fields).toEqual([
      { source: 'input', field: '/description', message: 'must NOT have more than 2000 characters' }
    ])
  })
})

describe('checkVersion', () => {
  it('lets an unconditional write through, and one whose version is named', () => {
    expect(() => { checkVersion(3, {}) }).not.toThrow()
    expect(() => { checkVersion(3, { ifVersion: [1, 3] }) }).not.toThrow()
  })

  it('refuses one whose version is not named', () => {
    expect(thrownBy(() => { checkVersion(3, { ifVersion: [] }) }).code).toBe('versionMismatch')
    expect(thrownBy(() => { checkVersion(3, { ifVersion: [2] }) }).message).toMatch(/current version \(3\)/)
  })
})

describe('checkListQuery', () => {
  it('gives the default sort, offset 0 without a cursor, and each sort field once', () => {
    expect(checkListQuery({ limit: 5 })).toEqual({ limit: 5, offset: 0, sort: [{ field: 'createdAt', descending: false }] })
    expect(checkListQuery({ limit: 5, cursor: 'c' })).toEqual({ limit: 5, cursor: 'c', sort: [{ field: 'createdAt', descending: false }] })
    const sort = [{ field: 'title', descending: true }, { field: 'priority', descending: false }, { field: 'title', descending: false }] as const
    expect(checkListQuery({ limit: 5, sort: [...sort] }).sort).toEqual(sort.slice(0, 2))
  })

  it('refuses a cursor with an offset, and a q without a letter or a digit, naming both', () => {
    const err = thrownBy(() => checkListQuery({ limit: 5, cursor: 'c', offset: 2, q: '--' }))
    expect(err.fields).toEqual([
      { source: 'query', field: '/q', message: 'must contain a letter or a digit' },
      { source: 'query', field: '/offset', message: 'cannot be combined with cursor' }
    ])
  })
})
