import { describe, it, expect } from 'vitest'
import { AppError, type FieldError } from '../../src/errors.js'
import { checkDescription, checkTitle, codePointLength, DESCRIPTION_MAX, throwIfAny, TITLE_MAX } from '../../src/store/validate.js'

/** An astral character: one code point, two UTF-16 units. */
const EMOJI = '😀'

function title (raw: string): { value: string, errors: FieldError[] } {
  const errors: FieldError[] = []
  const value = checkTitle(raw, errors)
  return { value, errors }
}

function description (value: string): FieldError[] {
  const errors: FieldError[] = []
  checkDescription(value, errors)
  return errors
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
    expect(title(raw).errors).toEqual([{ in: 'body', path: '/title', message: 'must not be empty or only white space' }])
  })

  it('counts the length in code points, after the trim', () => {
    expect(title(EMOJI.repeat(TITLE_MAX)).errors).toEqual([])
    expect(title(`  ${EMOJI.repeat(TITLE_MAX)}  `).errors).toEqual([])
    expect(title('x'.repeat(TITLE_MAX)).errors).toEqual([])
    const tooLong = title(EMOJI.repeat(TITLE_MAX + 1)).errors
    expect(tooLong).toEqual([{ in: 'body', path: '/title', message: 'must NOT have more than 200 characters' }])
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
    expect(title(raw).errors).toEqual([{ in: 'body', path: '/title', message: 'must not contain control characters' }])
  })

  it('reports every broken rule of a title', () => {
    expect(title(`\u0001${'x'.repeat(TITLE_MAX)}`).errors.map((e) => e.message)).toEqual([
      'must NOT have more than 200 characters',
      'must not contain control characters'
    ])
  })

  it('adds to the errors it is given', () => {
    const errors: FieldError[] = [{ in: 'body', path: '/other', message: 'x' }]
    checkTitle('', errors)
    expect(errors.map((e) => e.path)).toEqual(['/other', '/title'])
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
      { in: 'body', path: '/description', message: 'must not contain control characters other than \\n, \\r and \\t' }
    ])
  })

  it('allows 2000 code points and refuses 2001', () => {
    expect(description(EMOJI.repeat(DESCRIPTION_MAX))).toEqual([])
    expect(description(EMOJI.repeat(DESCRIPTION_MAX + 1))).toEqual([
      { in: 'body', path: '/description', message: 'must NOT have more than 2000 characters' }
    ])
    expect(description('x'.repeat(DESCRIPTION_MAX + 1))).toHaveLength(1)
  })

  it('is not trimmed: white space counts', () => {
    expect(description(' '.repeat(DESCRIPTION_MAX + 1))).toHaveLength(1)
  })
})

describe('throwIfAny', () => {
  it('does nothing without errors', () => {
    expect(() => { throwIfAny([]) }).not.toThrow()
  })

  it('throws a validation problem that lists every error', () => {
    const errors: FieldError[] = [
      { in: 'body', path: '/title', message: 'must not be empty or only white space' },
      { in: 'body', path: '/description', message: 'must NOT have more than 2000 characters' }
    ]
    let thrown: unknown
    try { throwIfAny(errors) } catch (err) { thrown = err }
    expect(thrown).toBeInstanceOf(AppError)
    const problem = (thrown as AppError).toProblem()
    expect(problem).toMatchObject({ type: '/problems/validation', status: 400, errors })
    expect(problem.detail).toBe('body/title must not be empty or only white space, body/description must NOT have more than 2000 characters')
  })
})
