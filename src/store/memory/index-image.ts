import type { ChatRecord } from '../records.js'
import { textImage, type TextCapture, type TextImage } from './text-image.js'

/** The indexes as flat arrays of slots (`ChatIndexes.toImage`, `loadImage`). */
export interface IndexImage {
  /** One past the highest slot. */
  used: number
  /** The chat in each slot (undefined: an empty slot). */
  records: readonly (ChatRecord | undefined)[]
  byCreated: Int32Array
  byUpdated: Int32Array
  byTitle: Int32Array
  byPriority: readonly [Int32Array, Int32Array, Int32Array]
  text: TextImage
}

/** `ChatIndexes.toImage`'s copy, its text index not yet in dictionary order. */
export type IndexCapture = Omit<IndexImage, 'text'> & { text: TextCapture }

/** Finishes a capture into an image, letting the event loop through (see `textImage`). */
export async function indexImage (capture: IndexCapture): Promise<IndexImage> {
  return { ...capture, text: await textImage(capture.text) }
}

/**
 * Visits the slots of `lists` (the three priority indexes, each in id order) in the order of their
 * chats' ids, with each id: a walk of every chat by id, for recovery and snapshots.
 */
export function walkById (lists: readonly Int32Array[], records: ArrayLike<ChatRecord | undefined>, visit: (slot: number, id: string) => void): void {
  const at = lists.map(() => 0)
  for (;;) {
    let best = -1
    let bestId = ''
    for (let p = 0; p < lists.length; p++) {
      const slot = lists[p]![at[p]!]
      if (slot === undefined) continue
      const id = records[slot]!.id
      if (best === -1 || id < bestId) { best = p; bestId = id }
    }
    if (best === -1) return
    visit(lists[best]![at[best]!++]!, bestId)
  }
}
