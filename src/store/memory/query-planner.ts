import type { ListQuery, SortField, SortKey } from '../types.js'
import { CursorCodec, fingerprintOfJson, invalid, type KeyTuple } from './cursor.js'
import type { ChatIndexes } from './indexes.js'
import { compareCodePoints, PRIORITY_RANK } from './sort-keys.js'
import type { ChatRecord } from '../records.js'
import type { OrderedIndex } from './ordered-index.js'
import type { SlotSet } from './postings.js'
import { words } from './tokenizer.js'

export interface QueryResult {
  records: ChatRecord[]
  total: number
  offset: number | undefined
  nextCursor: string | null
  /** How the query was answered, for the debug log: `<order source>|<count source>`. */
  plan: string
}

type Field = SortField | 'id'
const DEFAULT_SORT: SortKey[] = [{ field: 'createdAt', descending: false }]

/**
 * Answers a `list` query from the indexes (call it with the read lock held):
 * 1. `total` from the cheapest source that can count: the (priority, isActive) counts, a rank
 *    difference on createdAt, the text matches, or else a scan of the narrowest candidate set;
 * 2. the order from an index walk when one serves the sort's first key (runs of equal keys are
 *    sorted by the rest of the sort and the id), stopping after `limit + 1` matches; or, when the
 *    matches are few next to the entries such a walk would pass over, by sorting just the matches.
 */
export function runQuery (ix: ChatIndexes, codec: CursorCodec, query: ListQuery, owner = ''): QueryResult {
  const q = new Query(ix, query)
  // Only a page that reads or makes a cursor needs the fingerprint.
  // The owner is part of it: a cursor is good for the owner it was made for only.
  const fingerprint = (): string => fingerprintOfJson(owner + normalizedJson(q))
  const after = query.cursor === undefined ? undefined : q.checkTuple(codec.decode(query.cursor, fingerprint()))
  const offset = after === undefined ? query.offset ?? 0 : undefined
  const { total, how: counted } = q.count()
  const want = query.limit + 1
  let slots: number[]
  let ordered: string
  if (total === 0 || (offset ?? 0) >= total) {
    slots = []
    ordered = 'empty'
  } else if (q.walkCost(want + (offset ?? 0), total) <= q.sortCost(total)) {
    ({ slots, plan: ordered } = q.walk(after, offset ?? 0, want))
  } else {
    ({ slots, plan: ordered } = q.sortMatches(after, offset ?? 0, want))
  }
  const more = slots.length > query.limit
  if (more) slots.pop()
  const last = slots[slots.length - 1]
  const nextCursor = more && last !== undefined ? codec.encodeAfter(ix.records[last]!, fingerprint(), () => q.tupleOf(last)) : null
  return { records: slots.map((s) => ix.records[s]!), total, offset, nextCursor, plan: `${ordered}|${counted}` }
}

/** What a query's cursor fingerprint is made from: its filters and sort, normalized. */
export interface NormalizedQuery {
  readonly priorityMask: number
  readonly isActive: boolean | undefined
  readonly hasRange: boolean
  readonly from: number
  readonly to: number
  readonly words: readonly string[] | undefined
  readonly sort: readonly SortKey[]
}

/**
 * `JSON.stringify({ p, a, f, t, q, s })` of the normalized query, written directly (the fingerprint
 * of every page with a cursor hashes it; a test checks it against `JSON.stringify`).
 */
export function normalizedJson (q: NormalizedQuery): string {
  const f = q.hasRange && q.from !== -Infinity ? `${q.from}` : 'null'
  const t = q.hasRange && q.to !== Infinity ? `${q.to}` : 'null'
  let s = ''
  for (const k of q.sort) s += `${s === '' ? '' : ','}"${k.descending ? '-' : ''}${k.field}"`
  return `{"p":${q.priorityMask},"a":${q.isActive === undefined ? 'null' : `${q.isActive}`},"f":${f},"t":${t},"q":${q.words === undefined ? 'null' : JSON.stringify(q.words)},"s":[${s}]}`
}

class Query implements NormalizedQuery {
  readonly sort: SortKey[]
  /** Bit i set: priority rank i matches; 7 when every priority does. */
  readonly priorityMask: number
  readonly isActive: boolean | undefined
  readonly from: number
  readonly to: number
  readonly hasRange: boolean
  private range: [number, number] | undefined
  readonly words: string[] | undefined
  /** The text matches, when `q` is set. */
  readonly textSlots: SlotSet | undefined
  readonly fullCompare: (a: number, b: number) => number

  constructor (private readonly ix: ChatIndexes, query: ListQuery) {
    // `checkListQuery` (rules.ts) gave the sort with each field once.
    this.sort = query.sort ?? DEFAULT_SORT
    let mask = 0
    for (const p of query.priority ?? []) mask |= 1 << PRIORITY_RANK[p]
    this.priorityMask = mask === 0 ? 7 : mask
    this.isActive = query.isActive
    this.from = query.createdFrom ?? -Infinity
    this.to = query.createdTo ?? Infinity
    this.hasRange = query.createdFrom !== undefined || query.createdTo !== undefined
    if (query.q !== undefined) {
      this.words = [...new Set(words(query.q))].sort()
      this.textSlots = ix.text.match(this.words)
    }
    this.fullCompare = (a, b) => {
      for (const key of this.sort) {
        const c = this.compareField(key.field, a, b)
        if (c !== 0) return key.descending ? -c : c
      }
      return ix.idOrder(a, b)
    }
  }

  /** Whether a slot passes every filter. */
  matches (slot: number): boolean {
    const ix = this.ix
    if ((this.priorityMask & (1 << ix.priority[slot]!)) === 0) return false
    if (this.isActive !== undefined && ix.isActive(slot) !== this.isActive) return false
    if (this.hasRange) {
      const t = ix.createdAt[slot]!
      if (t < this.from || t >= this.to) return false
    }
    return this.textSlots === undefined || this.textSlots.has(slot)
  }

  get onlyCountedFilters (): boolean {
    return !this.hasRange && this.textSlots === undefined
  }

  count (): { total: number, how: string } {
    const { ix } = this
    if (this.textSlots !== undefined) {
      if (this.priorityMask === 7 && this.isActive === undefined && !this.hasRange) return { total: this.textSlots.size, how: 'count:text' }
      let n = 0
      this.textSlots.forEach((slot) => { if (this.matches(slot)) n++ })
      return { total: n, how: 'count:scan-text' }
    }
    if (this.hasRange) {
      const [start, end] = this.createdRange()
      if (this.priorityMask === 7 && this.isActive === undefined) return { total: Math.max(0, end - start), how: 'count:createdAt-rank' }
      let n = 0
      let at = start
      if (end > start) ix.byCreated.walk(start, false, (slot) => { if (this.matches(slot)) n++; return ++at < end })
      return { total: n, how: 'count:scan-createdAt' }
    }
    let n = 0
    for (let p = 0; p < 3; p++) {
      if ((this.priorityMask & (1 << p)) === 0) continue
      if (this.isActive !== false) n += ix.counts[p * 2 + 1]!
      if (this.isActive !== true) n += ix.counts[p * 2]!
    }
    return { total: n, how: 'count:counters' }
  }

  /** Ranks [start, end) of the createdAt range in byCreated (found once a query: the read lock holds the index still). */
  createdRange (): [number, number] {
    if (this.range !== undefined) return this.range
    const { ix } = this
    const start = this.from === -Infinity ? 0 : ix.byCreated.rankOf((s) => ix.createdAt[s]! - this.from)
    const end = this.to === Infinity ? ix.byCreated.size : ix.byCreated.rankOf((s) => ix.createdAt[s]! - this.to)
    this.range = [start, end]
    return this.range
  }

  /** Entries an index walk is expected to pass over to find `need` of `total` matches. */
  walkCost (need: number, total: number): number {
    const domain = this.sort[0]!.field === 'createdAt' && this.hasRange ? this.rangeSize() : this.ix.size
    return Math.min(domain, need * domain / total)
  }

  /** Entries the sort path enumerates, plus the comparisons of sorting the matches. */
  sortCost (total: number): number {
    return this.candidateCount() + total * Math.log2(total + 1)
  }

  private rangeSize (): number {
    const [start, end] = this.createdRange()
    return Math.max(0, end - start)
  }

  private candidateCount (): number {
    if (this.textSlots !== undefined) return this.textSlots.size
    if (this.hasRange) return this.rangeSize()
    let n = 0
    for (let p = 0; p < 3; p++) if ((this.priorityMask & (1 << p)) !== 0) n += this.ix.byPriority[p]!.size
    return n
  }

  /** Every match, from the narrowest candidate set, sorted; then the page after the cursor or offset. */
  sortMatches (after: KeyTuple | undefined, offset: number, want: number): { slots: number[], plan: string } {
    const { ix } = this
    const all: number[] = []
    let from: string
    if (this.textSlots !== undefined) {
      from = 'text'
      this.textSlots.forEach((slot) => { if (this.matches(slot)) all.push(slot) })
    } else if (this.hasRange) {
      from = 'createdAt-range'
      const [start, end] = this.createdRange()
      let at = start
      if (end > start) ix.byCreated.walk(start, false, (slot) => { if (this.matches(slot)) all.push(slot); return ++at < end })
    } else {
      from = 'priority'
      for (let p = 0; p < 3; p++) {
        if ((this.priorityMask & (1 << p)) === 0) continue
        ix.byPriority[p]!.walk(0, false, (slot) => { if (this.matches(slot)) all.push(slot); return true })
      }
    }
    all.sort(this.fullCompare)
    let start = offset
    if (after !== undefined) {
      let lo = 0
      let hi = all.length
      while (lo < hi) {
        const mid = (lo + hi) >>> 1
        if (this.compareTuple(after, all[mid]!) >= 0) lo = mid + 1
        else hi = mid
      }
      start = lo
    }
    return { slots: all.slice(start, start + want), plan: `sort:${from}${after === undefined ? '' : '+cursor'}` }
  }

  /**
   * Walks the index of the sort's first key (for `priority` first: each priority's group in turn,
   * through the index of the next key, or the group's id order) and collects `want` matches after
   * the cursor or the first `offset` matches.
   */
  walk (after: KeyTuple | undefined, offset: number, want: number): { slots: number[], plan: string } {
    const lead = this.sort[0]!
    const out: number[] = []
    const page = new Collector(out, want, offset, after === undefined ? undefined : (slot) => this.compareTuple(after, slot) < 0)
    if (lead.field !== 'priority') {
      const plan = this.walkIndex(lead.field, lead.descending, 0, after, undefined, page)
      return { slots: out, plan }
    }
    const next = this.sort[1]
    const field: Field = next?.field ?? 'id'
    const descending = next?.descending ?? false
    let plan = ''
    for (let i = 0; i < 3 && !page.full; i++) {
      const p = lead.descending ? 2 - i : i
      if ((this.priorityMask & (1 << p)) === 0) continue
      if (after !== undefined && this.compareValues('priority', p, after[0]!) * (lead.descending ? -1 : 1) < 0) continue
      const seek = after !== undefined && after[0] === p ? after : undefined
      const groupCount = this.groupCount(p)
      if (seek === undefined && groupCount !== undefined && page.skip >= groupCount) {
        page.skip -= groupCount
        continue
      }
      plan = this.walkIndex(field, descending, 1, seek, p, page)
    }
    return { slots: out, plan: `group:priority>${plan}` }
  }

  /** How many matches priority group `p` holds, when the indexes can say without a scan. */
  private groupCount (p: number): number | undefined {
    if (!this.onlyCountedFilters) return undefined
    const { counts } = this.ix
    return this.isActive === undefined ? counts[p * 2]! + counts[p * 2 + 1]! : counts[p * 2 + (this.isActive ? 1 : 0)]
  }

  /**
   * Walks one ordered index in the sort's direction. `at` is the position of `field` in the
   * cursor tuple; `group` restricts the walk to one priority (the id order of that priority
   * when `field` is `id`).
   */
  private walkIndex (field: Field, descending: boolean, at: number, after: KeyTuple | undefined, group: number | undefined, page: Collector): string {
    const { ix } = this
    const index = this.indexOf(field, group)
    let start = 0
    let end = index.size
    const bounded = field === 'createdAt' && this.hasRange
    if (bounded) [start, end] = this.createdRange()
    const plan = [`index:${field}${descending ? ':desc' : ''}`]
    if (bounded) plan.push('range')
    let rank = descending ? end - 1 : start
    if (after !== undefined) {
      const value = after[at]!
      const probe = (slot: number): number => this.compareValues(field, this.valueOf(field, slot), value)
      // Ascending: the first entry whose key is not below the cursor's; descending: the last not above it.
      rank = descending ? Math.min(rank, index.rankOf(probe, true) - 1) : Math.max(rank, index.rankOf(probe))
      plan.push('cursor')
    }
    const wholeGroup = group === undefined || field === 'id'
    const priorityImplied = this.priorityMask === 7 || (group !== undefined && field === 'id')
    const exact = wholeGroup && priorityImplied && this.isActive === undefined && this.textSlots === undefined && (!this.hasRange || bounded)
    const runs = field !== 'id' && (descending || this.sort.length > at + 1)
    if (exact && after === undefined && page.skip > 0) {
      // Every entry of the walk matches: jump over the offset, back to the start of its run of equal keys.
      rank += descending ? -page.skip : page.skip
      page.skip = 0
      const back = descending ? 1 : -1
      while (runs && rank >= start && rank < end && rank + back >= start && rank + back < end &&
        this.compareField(field, index.at(rank + back), index.at(rank)) === 0) {
        rank += back
        page.skip++
      }
      plan.push('offset-jump')
    }
    const inRange = (n: number): boolean => n >= start && n < end
    // Equal keys sit in the index by id. When `field` is the sort's last key, a run needs only the
    // id order: the index's own order, reversed on a descending walk (no comparison reads a record).
    const reverseRuns = descending && this.sort.length === at + 1
    // The current run of equal keys: run[0, runLength), the array reused from run to run.
    const run: number[] = []
    let runLength = 0
    let n = rank
    const flush = (): boolean => {
      if (runLength <= 1) {
        const single = runLength === 1
        runLength = 0
        return !single || page.add(run[0]!)
      }
      const part = run.slice(0, runLength)
      runLength = 0
      if (reverseRuns) part.reverse()
      else part.sort(this.fullCompare)
      for (const s of part) if (!page.add(s)) return false
      return true
    }
    index.walk(rank, descending, (slot) => {
      if (!inRange(n)) return false
      n += descending ? -1 : 1
      if (group !== undefined && ix.priority[slot] !== group) return true
      if (!this.matches(slot)) return true
      if (!runs) return page.add(slot)
      if (runLength > 0 && this.compareField(field, run[0]!, slot) !== 0 && !flush()) return false
      run[runLength++] = slot
      return true
    })
    if (runs && !page.full) flush()
    return plan.join('+')
  }

  private indexOf (field: Field, group: number | undefined): OrderedIndex {
    const { ix } = this
    switch (field) {
      case 'createdAt': return ix.byCreated
      case 'updatedAt': return ix.byUpdated
      case 'title': return ix.byTitle
      default: return ix.byPriority[group ?? 0]!
    }
  }

  valueOf (field: Field, slot: number): number | string {
    const { ix } = this
    switch (field) {
      case 'createdAt': return ix.createdAt[slot]!
      case 'updatedAt': return ix.updatedAt[slot]!
      case 'priority': return ix.priority[slot]!
      case 'title': return ix.titleKeyOf(slot)
      case 'id': return ix.records[slot]!.id
    }
  }

  compareField (field: Field, a: number, b: number): number {
    const { ix } = this
    switch (field) {
      case 'createdAt': return ix.createdAt[a]! - ix.createdAt[b]!
      case 'updatedAt': return ix.updatedAt[a]! - ix.updatedAt[b]!
      case 'priority': return ix.priority[a]! - ix.priority[b]!
      case 'title': return ix.titleOrder(a, b)
      case 'id': return ix.idOrder(a, b)
    }
  }

  compareValues (field: Field, a: number | string, b: number | string): number {
    if (field === 'title') return compareCodePoints(a as string, b as string)
    if (field === 'id') return a < b ? -1 : a > b ? 1 : 0
    return (a as number) - (b as number)
  }

  /** The sort position of a slot: its sort fields' values, then its id. */
  tupleOf (slot: number): KeyTuple {
    return [...this.sort.map((k) => this.valueOf(k.field, slot)), this.ix.records[slot]!.id]
  }

  /** Compares a cursor's position with a slot's, in the query's order. */
  compareTuple (tuple: KeyTuple, slot: number): number {
    for (let i = 0; i < this.sort.length; i++) {
      const { field, descending } = this.sort[i]!
      const c = this.compareValues(field, tuple[i]!, this.valueOf(field, slot))
      if (c !== 0) return descending ? -c : c
    }
    return this.compareValues('id', tuple[this.sort.length]!, this.ix.records[slot]!.id)
  }

  /** A decoded cursor tuple, checked against the shape this query's sort gives. */
  checkTuple (tuple: KeyTuple): KeyTuple {
    const ok = tuple.length === this.sort.length + 1 && typeof tuple[this.sort.length] === 'string' &&
      this.sort.every((k, i) => typeof tuple[i] === (k.field === 'title' ? 'string' : 'number'))
    if (!ok) throw invalid('does not fit this sort')
    return tuple
  }
}

/** Collects a page: skips `skip` matches, then keeps those after the cursor until it holds `want`. */
class Collector {
  private afterCursor: boolean

  constructor (private readonly out: number[], private readonly want: number, public skip: number, private readonly isAfter: ((slot: number) => boolean) | undefined) {
    this.afterCursor = isAfter === undefined
  }

  get full (): boolean { return this.out.length >= this.want }

  /** False once the page is full. */
  add (slot: number): boolean {
    if (!this.afterCursor) {
      if (!this.isAfter!(slot)) return true
      this.afterCursor = true
    }
    if (this.skip > 0) {
      this.skip--
      return true
    }
    this.out.push(slot)
    return this.out.length < this.want
  }
}
