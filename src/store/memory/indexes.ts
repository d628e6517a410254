import type { Change, ChatRecord } from '../records.js'
import { withTail } from './image-tail.js'
import { walkById, type IndexCapture, type IndexImage } from './index-image.js'
import { compareTitleHeads, compareTitles, PRIORITY_RANK, setTitleHeads, titleKey } from './sort-keys.js'
import { DEFAULT_CHUNK, OrderedIndex } from './ordered-index.js'
import { spread, StringTable, stringHash } from './string-table.js'
import { TextIndex } from './text-index.js'
import { chatTerms } from './tokenizer.js'

/**
 * Every index of the in-memory store, kept in step by `add`, `replace` and `remove` (called
 * with the store's write lock held). Each chat gets a row ("slot") for its life, and a deleted
 * chat's row is reused: a record array plus typed columns for the keys the planner reads most,
 * so that index entries are 4-byte slot numbers.
 *
 * - createdAt, updatedAt, title: ordered indexes (ties by id).
 * - priority: one id-ordered index per priority (priority → ids, and the order `sort=priority` needs).
 * - isActive: a bit set over the slots (active flag → ids), and counts per (priority, isActive).
 * - title and description words: the inverted index in `text`.
 */
export class ChatIndexes {
  records: (ChatRecord | undefined)[] = []
  createdAt = new Float64Array(64)
  updatedAt = new Float64Array(64)
  /** Three numbers a slot that order as its title key's first 21 characters do (`setTitleHeads`). */
  titleHeads = new Float64Array(64 * 3)
  /**
   * Each slot's title, as one string object for titles seen recently (`sameTitles`): equal
   * titles, which many chats share, then compare as equal pointers, without a read of either
   * record or string.
   */
  titles: string[] = new Array<string>(64).fill('')
  private readonly sameTitles = new RecentStrings(4096)
  priority = new Uint8Array(64)
  active = new Uint32Array(2)
  /** counts[priorityRank * 2 + (isActive ? 1 : 0)] */
  readonly counts = new Float64Array(6)
  private readonly free: number[] = []
  private used = 0
  /** Where `slotOf` reads a row's id: `records`, but for a moment during `loadImage`. */
  private idRows: ArrayLike<ChatRecord | undefined> = this.records
  /** The row of each chat by id: the store's one map of ids. */
  private readonly slotOf = new StringTable((slot) => this.idRows[slot]!.id)

  /**
   * Each slot's place in the order chats were added. While every chat added has an id above all
   * before it (as the store's ids are made), this orders slots as their ids do, with one
   * subtraction instead of a comparison of two 36-character strings.
   */
  seq = new Float64Array(64)
  private nextSeq = 0
  private lastId = ''
  private seqOrdersIds = true

  readonly idOrder = (a: number, b: number): number => {
    if (this.seqOrdersIds) return this.seq[a]! - this.seq[b]!
    const x = this.records[a]!.id
    const y = this.records[b]!.id
    return x < y ? -1 : x > y ? 1 : 0
  }

  readonly byCreated: OrderedIndex
  readonly byUpdated: OrderedIndex
  readonly byTitle: OrderedIndex
  readonly byPriority: readonly [OrderedIndex, OrderedIndex, OrderedIndex]
  readonly text = new TextIndex()

  /** `chunk`: the ordered indexes' chunk size. */
  constructor (chunk = DEFAULT_CHUNK) {
    this.byCreated = new OrderedIndex((a, b) => this.createdAt[a]! - this.createdAt[b]! || this.idOrder(a, b), chunk)
    this.byUpdated = new OrderedIndex((a, b) => this.updatedAt[a]! - this.updatedAt[b]! || this.idOrder(a, b), chunk)
    this.byTitle = new OrderedIndex((a, b) => this.titleOrder(a, b) || this.idOrder(a, b), chunk)
    this.byPriority = [new OrderedIndex(this.idOrder, chunk), new OrderedIndex(this.idOrder, chunk), new OrderedIndex(this.idOrder, chunk)]
  }

  get size (): number { return this.byCreated.size }

  /** The row `get` found last: a write reads its chat, then changes it (`slotOfRecord`). */
  private lastGot = 0

  /** The row of a chat in the indexes: the one `get` found last when it holds this very record, else looked up by id. */
  private slotOfRecord (record: ChatRecord): number {
    return this.records[this.lastGot] === record ? this.lastGot : this.slotOf.get(record.id)!
  }

  /** The chat with this id, or undefined: the store's one map of ids. */
  get (id: string): ChatRecord | undefined {
    const slot = this.slotOf.get(id)
    if (slot === undefined) return undefined
    this.lastGot = slot
    return this.records[slot]
  }

  /**
   * Every chat in id order, which is the order they were created in (as the store's ids are
   * made): the three priority indexes, each in id order, merged.
   */
  inIdOrder (): ChatRecord[] {
    const { records } = this
    const out: ChatRecord[] = []
    mergeById(this.byPriority.map((index) => index.toArray()), this.idOrder, (slot) => { out.push(records[slot]!) })
    return out
  }

  add (record: ChatRecord): void {
    const slot = this.free.pop() ?? this.used++
    this.ensureCapacity(slot + 1)
    this.records[slot] = record
    this.slotOf.set(record.id, slot)
    this.setColumns(slot, record)
    this.setSeq(slot, record.id)
    this.byCreated.insert(slot)
    this.byUpdated.insert(slot)
    this.byTitle.insert(slot)
    this.byPriority[this.priority[slot]!]!.insert(slot)
    this.text.addText(slot, record)
  }

  /**
   * Builds every index at once for chats given in creation order (recovery): each ordered index
   * sorted in one go instead of one insert at a time, the text index filled in slot order. The
   * indexes must be empty. Slots follow the order given, so when the ids ascend (as the store's
   * map keeps them) a tie between keys is broken by the slot numbers, and the priority indexes,
   * ordered by id alone, need no sort; a key already in order (createdAt) needs none either.
   */
  load (records: Iterable<ChatRecord>, count = 0): void {
    if (this.used !== 0) throw new Error('ChatIndexes: load needs empty indexes')
    this.ensureCapacity(count)
    this.slotOf.reserve(count)
    let idsAscend = true
    let previousId = ''
    for (const record of records) {
      const slot = this.used++
      this.ensureCapacity(slot + 1)
      this.records[slot] = record
      this.slotOf.set(record.id, slot)
      this.setColumns(slot, record, true)
      this.setSeq(slot, record.id)
      if (record.id <= previousId) idsAscend = false
      previousId = record.id
    }
    this.text.load(this.records, this.used)
    const n = this.used
    const ties = idsAscend ? (a: number, b: number): number => a - b : this.idOrder
    const byKey = (key: Float64Array): Int32Array => {
      const slots = allSlots(n)
      let sorted = true
      for (let slot = 1; slot < n && sorted; slot++) sorted = key[slot - 1]! < key[slot]! || (key[slot - 1] === key[slot] && ties(slot - 1, slot) < 0)
      return sorted ? slots : slots.sort((a, b) => key[a]! - key[b]! || ties(a, b))
    }
    this.byCreated.load(byKey(this.createdAt))
    this.byUpdated.load(byKey(this.updatedAt))
    this.byTitle.load(allSlots(n).sort((a, b) => this.titleOrder(a, b) || ties(a, b)))
    const priority = this.priority
    this.byPriority.forEach((index, p) => {
      const slots = new Int32Array(this.counts[p * 2]! + this.counts[p * 2 + 1]!)
      let k = 0
      for (let slot = 0; slot < n; slot++) if (priority[slot] === p) slots[k++] = slot
      index.load(idsAscend ? slots : slots.sort(this.idOrder))
    })
  }

  /**
   * The built indexes copied into flat arrays, for a snapshot to save: what `loadImage` takes back
   * (after `indexImage`) instead of sorting and tokenizing again. Cheap next to a build (copies of
   * arrays, no lookups), so that it can be taken inside the write lock with the chats it goes with.
   */
  toImage (): IndexCapture {
    return {
      used: this.used,
      records: this.records.slice(0, this.used),
      byCreated: this.byCreated.toArray(),
      byUpdated: this.byUpdated.toArray(),
      byTitle: this.byTitle.toArray(),
      byPriority: [this.byPriority[0].toArray(), this.byPriority[1].toArray(), this.byPriority[2].toArray()],
      text: this.text.toImage()
    }
  }

  /**
   * Fills empty indexes from an image (`toImage`, through a snapshot), its records in their slots,
   * empty slots reused later, with `tail` (the changes logged after it) merged in (`withTail`).
   * Checks that the arrays hold together with the records (every entry a filled slot, each
   * ordered index a permutation of the right ones, postings ascending) and throws when not; the
   * orders themselves and the postings' words are trusted as saved (the image's version, `LAYOUT`
   * in index-codec.ts, stands for the rules that made them).
   */
  loadImage (saved: IndexImage, tail: readonly Change[] = []): void {
    if (this.used !== 0) throw new Error('ChatIndexes: loadImage needs empty indexes')
    if (saved.records.length !== saved.used) throw new Error('ChatIndexes: the image holds a record array of the wrong length')
    const { slotOf } = this
    this.idRows = saved.records
    slotOf.reserve(saved.used)
    for (let slot = 0; slot < saved.used; slot++) {
      const record = saved.records[slot]
      if (record !== undefined) slotOf.set(record.id, slot)
    }
    let image: IndexImage = saved
    let byId: Int32Array | undefined
    if (tail.length > 0) {
      const merged = withTail(saved, tail, (id) => slotOf.get(id))
      // The chats the log changed or deleted left their saved rows; the changed ones come back in new rows.
      for (let slot = 0; slot < saved.used; slot++) {
        const record = saved.records[slot]
        if (record !== undefined && merged.records[slot] === undefined) slotOf.delete(record.id)
      }
      this.idRows = merged.records
      for (let slot = saved.used; slot < merged.used; slot++) slotOf.set(merged.records[slot]!.id, slot)
      image = merged
      byId = merged.byId
    }
    const { used, records } = image
    this.ensureCapacity(used)
    this.records = records as (ChatRecord | undefined)[]
    this.idRows = this.records
    this.used = used
    for (let slot = used - 1; slot >= 0; slot--) {
      const record = records[slot]
      if (record === undefined) this.free.push(slot)
      else this.setColumns(slot, record, true)
    }
    if (this.slotOf.size !== used - this.free.length) throw new Error('ChatIndexes: the image holds an id twice')
    const n = this.slotOf.size
    const seen = new Int32Array(used)
    let mark = 0
    const check = (name: string, slots: Int32Array, size: number, priority?: number): void => {
      mark++
      if (slots.length !== size) throw new Error(`ChatIndexes: the image's ${name} index holds ${slots.length} entries, not ${size}`)
      for (const slot of slots) {
        if (!(slot >= 0 && slot < used) || records[slot] === undefined || seen[slot] === mark || (priority !== undefined && this.priority[slot] !== priority)) {
          throw new Error(`ChatIndexes: the image's ${name} index holds slot ${slot}, which it should not`)
        }
        seen[slot] = mark
      }
    }
    check('createdAt', image.byCreated, n)
    check('updatedAt', image.byUpdated, n)
    check('title', image.byTitle, n)
    image.byPriority.forEach((slots, p) => { check(`priority ${p}`, slots, this.counts[p * 2]! + this.counts[p * 2 + 1]!, p) })
    const filled = new Uint32Array((used >>> 5) + 1)
    for (let slot = 0; slot < used; slot++) if (records[slot] !== undefined) filled[slot >>> 5]! |= 1 << (slot & 31)
    this.text.loadImage(image.text, used, filled)
    this.byCreated.load(image.byCreated)
    this.byUpdated.load(image.byUpdated)
    this.byTitle.load(image.byTitle)
    this.byPriority.forEach((index, p) => { index.load(image.byPriority[p]!) })
    if (byId === undefined) this.seqInIdOrder(image.byPriority)
    else for (const slot of byId) this.setSeq(slot, records[slot]!.id)
  }

  /**
   * Gives loaded chats their place in the order added (`seq`), as if added in id order: the three
   * priority indexes are each in id order, so a merge of them walks every chat by id.
   */
  private seqInIdOrder (lists: readonly [Int32Array, Int32Array, Int32Array]): void {
    walkById(lists, this.records, (slot, id) => { this.setSeq(slot, id) })
  }

  /** Swaps in the new version of a chat (same id and slot), moving it only in the indexes whose keys changed. */
  replace (before: ChatRecord, after: ChatRecord): void {
    const slot = this.slotOfRecord(before)
    const titleChanged = before.title !== after.title
    const priorityChanged = before.priority !== after.priority
    if (titleChanged) this.byTitle.remove(slot)
    if (priorityChanged) this.byPriority[PRIORITY_RANK[before.priority]]!.remove(slot)
    if (before.updatedAt !== after.updatedAt) this.byUpdated.remove(slot)
    this.uncount(before)
    this.records[slot] = after
    if (titleChanged) this.setTitle(slot, after.title, false)
    this.setKeys(slot, after)
    if (before.updatedAt !== after.updatedAt) this.byUpdated.insert(slot)
    if (priorityChanged) this.byPriority[PRIORITY_RANK[after.priority]]!.insert(slot)
    if (titleChanged) this.byTitle.insert(slot)
    this.text.replace(slot, before, after)
  }

  remove (record: ChatRecord): void {
    const slot = this.slotOfRecord(record)
    this.slotOf.delete(record.id)
    this.byCreated.remove(slot)
    this.byUpdated.remove(slot)
    this.byTitle.remove(slot)
    this.byPriority[PRIORITY_RANK[record.priority]]!.remove(slot)
    this.text.removeText(slot, record)
    this.uncount(record)
    this.records[slot] = undefined
    this.titles[slot] = ''
    this.free.push(slot)
  }

  /** What disagrees within the indexes: the map of ids, the rows, the columns, the orders (nothing when all agree). For tests. */
  problems (): string[] {
    const out: string[] = []
    const counts = new Float64Array(6)
    const seen = new Set<ChatRecord>()
    const heads = new Float64Array(3)
    let filled = 0
    for (let slot = 0; slot < this.used; slot++) {
      const r = this.records[slot]
      if (r === undefined) continue
      filled++
      // One record object a row (a write finds its row by the record it read: `slotOfRecord`).
      if (seen.has(r)) out.push(`chat ${r.id}: its record object is in two rows`)
      seen.add(r)
      const { id } = r
      if (this.slotOf.get(id) !== slot) {
        out.push(`chat ${id} is not in its row`)
        continue
      }
      const rank = PRIORITY_RANK[r.priority]
      counts[rank * 2 + (r.isActive ? 1 : 0)]!++
      setTitleHeads(r.title, heads, 0)
      const headsAgree = heads.every((h, k) => h === this.titleHeads[slot * 3 + k])
      if (this.createdAt[slot] !== r.createdAt || this.updatedAt[slot] !== r.updatedAt || this.priority[slot] !== rank || this.isActive(slot) !== r.isActive ||
        this.titles[slot] !== r.title || !headsAgree) {
        out.push(`chat ${id}: its columns disagree with its record`)
      }
      for (const term of chatTerms(r.title, r.description)) {
        if (!this.text.match([term]).has(slot)) out.push(`chat ${id} is missing from the text index under "${term}"`)
      }
    }
    if (this.slotOf.size !== filled) out.push(`the map of ids holds ${this.slotOf.size} chats, the rows ${filled}`)
    if (this.free.length !== this.used - filled) out.push(`${this.free.length} rows are free, ${this.used - filled} empty`)
    if (this.seqOrdersIds) {
      const idOf = (slot: number): string => this.records[slot]!.id
      const slots = [...this.slotOf.entries()].sort((a, b) => idOf(a) < idOf(b) ? -1 : 1)
      for (let i = 1; i < slots.length; i++) {
        if (!(this.seq[slots[i - 1]!]! < this.seq[slots[i]!]!)) out.push(`the order chats were added in disagrees with their ids at row ${slots[i]!}`)
      }
    }
    if (counts.some((n, i) => n !== this.counts[i])) out.push(`the (priority, isActive) counts are ${this.counts.join()}, the chats make ${counts.join()}`)
    const ordered: Array<[string, OrderedIndex, number]> = [['createdAt', this.byCreated, filled], ['updatedAt', this.byUpdated, filled], ['title', this.byTitle, filled],
      ...this.byPriority.map((index, p): [string, OrderedIndex, number] => [`priority ${p}`, index, this.counts[p * 2]! + this.counts[p * 2 + 1]!])]
    for (const [name, index, size] of ordered) {
      if (index.size !== size) out.push(`the ${name} index holds ${index.size} entries, not ${size}`)
      let previous = -1
      index.walk(0, false, (slot) => {
        if (this.records[slot] === undefined) out.push(`the ${name} index holds the empty row ${slot}`)
        else if (previous !== -1 && index.compare(previous, slot) >= 0) out.push(`the ${name} index is out of order at row ${slot}`)
        previous = slot
        return true
      })
    }
    return out
  }

  isActive (slot: number): boolean {
    return (this.active[slot >>> 5]! & (1 << (slot & 31))) !== 0
  }

  /**
   * Title keys in order: by the slots' `titleHeads` first (three numbers in one typed array, no
   * string read), then, when those are equal and do not hold the whole keys, as `compareTitles`
   * does (equal titles, which many chats share, compare at once).
   */
  titleOrder (a: number, b: number): number {
    const d = compareTitleHeads(this.titleHeads, a, b)
    if (!Number.isNaN(d)) return d
    const x = this.titles[a]!
    const y = this.titles[b]!
    return x === y ? 0 : compareTitles(x, y)
  }

  titleKeyOf (slot: number): string {
    return titleKey(this.records[slot]!.title)
  }

  /** `bulk`: a chat of a whole store loaded at once, whose title is not looked for among recent ones. */
  private setColumns (slot: number, r: ChatRecord, bulk = false): void {
    this.setTitle(slot, r.title, bulk)
    this.setKeys(slot, r)
  }

  /** The title order's columns of a row. */
  private setTitle (slot: number, title: string, bulk: boolean): void {
    setTitleHeads(title, this.titleHeads, slot * 3)
    this.titles[slot] = bulk ? title : this.sameTitles.of(title)
  }

  /** The other columns: times, priority, flag, and the (priority, isActive) counts. */
  private setKeys (slot: number, r: ChatRecord): void {
    this.createdAt[slot] = r.createdAt
    this.updatedAt[slot] = r.updatedAt
    const rank = PRIORITY_RANK[r.priority]
    this.priority[slot] = rank
    if (r.isActive) this.active[slot >>> 5]! |= 1 << (slot & 31)
    else this.active[slot >>> 5]! &= ~(1 << (slot & 31))
    this.counts[rank * 2 + (r.isActive ? 1 : 0)]!++
  }

  private setSeq (slot: number, id: string): void {
    if (id > this.lastId) this.lastId = id
    else this.seqOrdersIds = false
    this.seq[slot] = this.nextSeq++
  }

  private uncount (r: ChatRecord): void {
    this.counts[PRIORITY_RANK[r.priority] * 2 + (r.isActive ? 1 : 0)]!--
  }

  private ensureCapacity (n: number): void {
    if (n <= this.createdAt.length) return
    const size = Math.max(n, Math.ceil(this.createdAt.length * 1.5))
    this.createdAt = grow(this.createdAt, new Float64Array(size))
    this.updatedAt = grow(this.updatedAt, new Float64Array(size))
    this.seq = grow(this.seq, new Float64Array(size))
    this.titleHeads = grow(this.titleHeads, new Float64Array(size * 3))
    // Grown in order, so that the array stays packed when rows are then filled from the last (`loadImage`).
    while (this.titles.length < size) this.titles.push('')
    this.priority = grow(this.priority, new Uint8Array(size))
    this.active = grow(this.active, new Uint32Array(Math.ceil(size / 32)))
  }
}

/**
 * Visits the slots of `lists` (each ordered by `order`) in that order. `inIdOrder` walks by
 * `idOrder` (the add-order column while it agrees with the ids), so that `checkInvariants`, which
 * checks the ids it meets ascend, finds a column that drifted from them.
 */
function mergeById (lists: readonly Int32Array[], order: (a: number, b: number) => number, visit: (slot: number) => void): void {
  const at = lists.map(() => 0)
  for (;;) {
    let best = -1
    for (let p = 0; p < lists.length; p++) {
      if (at[p]! < lists[p]!.length && (best === -1 || order(lists[p]![at[p]!]!, lists[best]![at[best]!]!) < 0)) best = p
    }
    if (best === -1) return
    visit(lists[best]![at[best]!++]!)
  }
}

function allSlots (n: number): Int32Array {
  const slots = new Int32Array(n)
  for (let slot = 0; slot < n; slot++) slots[slot] = slot
  return slots
}

/**
 * A direct-mapped cache of recently seen strings by hash: `of` answers the string it holds equal
 * to the one given (the same object every time while it stays), else keeps and answers the one
 * given. Bounded: it keeps at most `size` strings alive (for titles, at most 4,096 of up to 200
 * characters, whatever became of their chats).
 */
export class RecentStrings {
  private readonly held: string[]
  private readonly mask: number

  constructor (size: number) {
    this.mask = size - 1
    this.held = new Array<string>(size).fill('')
  }

  of (s: string): string {
    const at = spread(stringHash(s)) & this.mask
    const held = this.held[at]!
    if (held === s) return held
    this.held[at] = s
    return s
  }
}

function grow<T extends Float64Array | Uint8Array | Uint32Array> (from: T, to: T): T {
  to.set(from)
  return to
}
