import type { Chat, ListQuery } from '../../../src/store/types.js'

/**
 * The reference the query engine is checked against: filter every chat, sort them all, slice.
 * Written apart from the engine, from the contract's words.
 */
const RANK = { low: 0, medium: 1, high: 2 } as const

function byCodePoint (a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0)!)
  const y = Array.from(b, (c) => c.codePointAt(0)!)
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!
  return x.length - y.length
}

export function naiveWords (text: string): string[] {
  return text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase().split(/[^\p{L}\p{N}]/u).filter((w) => w !== '')
}

export function naiveMatches (chat: Chat, query: ListQuery): boolean {
  if (query.priority !== undefined && query.priority.length > 0 && !query.priority.includes(chat.priority)) return false
  if (query.isActive !== undefined && chat.isActive !== query.isActive) return false
  const created = Date.parse(chat.createdAt)
  if (query.createdFrom !== undefined && created < query.createdFrom) return false
  if (query.createdTo !== undefined && created >= query.createdTo) return false
  if (query.q !== undefined) {
    const have = [...naiveWords(chat.title), ...naiveWords(chat.description)]
    if (!naiveWords(query.q).every((w) => have.some((h) => h.startsWith(w)))) return false
  }
  return true
}

/** Every match of the query's filters, in its order (the page is a slice of this). */
export function naiveList (chats: Iterable<Chat>, query: ListQuery): Chat[] {
  const sort = query.sort !== undefined && query.sort.length > 0 ? query.sort : [{ field: 'createdAt', descending: false } as const]
  return [...chats].filter((c) => naiveMatches(c, query)).sort((a, b) => {
    for (const { field, descending } of sort) {
      let c: number
      switch (field) {
        case 'createdAt':
        case 'updatedAt': c = Date.parse(a[field]) - Date.parse(b[field]); break
        case 'priority': c = RANK[a.priority] - RANK[b.priority]; break
        case 'title': c = byCodePoint(a.title.toLowerCase(), b.title.toLowerCase()); break
      }
      if (c !== 0) return descending ? -c : c
    }
    return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
  })
}
