/**
 * The benchmarks' "long" chat texts: about 40-character titles (ending in the chat's number) and
 * 125-character descriptions, of words drawn from a vocabulary of 5,000, from a fixed seed so that
 * every run makes the same ones.
 */
export function longTexts (seed = 42): (i: number) => { title: string, description: string } {
  let state = seed
  const random = (k: number): number => { state = (Math.imul(state, 1103515245) + 12345) >>> 0; return state % k }
  const vocabulary = Array.from({ length: 5000 }, () => Array.from({ length: 3 + random(7) }, () => String.fromCharCode(97 + random(26))).join(''))
  const sentence = (length: number): string => {
    const words: string[] = []
    for (let chars = -1; chars < length;) { const w = vocabulary[random(vocabulary.length)]!; words.push(w); chars += w.length + 1 }
    return words.join(' ')
  }
  return (i) => {
    const title = `${sentence(32)} ${i}`
    return { title: title[0]!.toUpperCase() + title.slice(1), description: sentence(125) }
  }
}
