import fc from 'fast-check'
import { document } from './responses.js'

/**
 * fast-check arbitraries made from the document's own schemas (the subset of JSON Schema the
 * service's schemas use): what the document says is valid, and, for one field at a time, a value
 * the document says is not.
 */
export interface Schema {
  $ref?: string
  type?: string
  enum?: unknown[]
  pattern?: string
  format?: string
  minLength?: number
  maxLength?: number
  minimum?: number
  maximum?: number
  items?: Schema
  properties?: Record<string, Schema>
  required?: string[]
  minProperties?: number
  additionalProperties?: boolean
}

interface Parameter { name: string, in: string, required?: boolean, schema: Schema }
interface Operation { parameters?: Parameter[], requestBody?: { content: Record<string, { schema: Schema }> } }
const doc = document as unknown as { paths: Record<string, Record<string, Operation>>, components: { schemas: Record<string, Schema> } }

export function resolve (schema: Schema): Schema {
  if (schema.$ref === undefined) return schema
  return resolve(doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')]!)
}

export const operation = (path: string, method: string): Operation => doc.paths[path]![method]!
export const bodySchema = (path: string, method: string): Schema =>
  resolve(operation(path, method).requestBody!.content['application/json']!.schema)
export const queryParameters = (path: string, method: string): Parameter[] =>
  (operation(path, method).parameters ?? []).filter((p) => p.in === 'query')

const codePoints = (s: string): number => Array.from(s).length

/** A value valid against `schema`. */
export function valid (raw: Schema): fc.Arbitrary<unknown> {
  const schema = resolve(raw)
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum)
  switch (schema.type) {
    case 'boolean': return fc.boolean()
    case 'integer': return fc.integer({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6 })
    case 'array': return fc.array(valid(schema.items!), { minLength: 1, maxLength: 3 })
    case 'object': {
      const properties = Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, s]) => [k, valid(s)]))
      const record = fc.record(properties, { requiredKeys: schema.required ?? [] })
      return (schema.minProperties ?? 0) > 0 ? record.filter((o) => Object.keys(o).length >= schema.minProperties!) : record
    }
    case 'string': {
      if (schema.format === 'date-time') return fc.date({ min: new Date(0), max: new Date(4e12), noInvalidDate: true }).map((d) => d.toISOString())
      const base = schema.pattern === undefined ? fc.string({ unit: 'grapheme', maxLength: schema.maxLength ?? 40 }) : fc.stringMatching(new RegExp(schema.pattern, 'u'))
      return base.filter((s) => codePoints(s) >= (schema.minLength ?? 0) && codePoints(s) <= (schema.maxLength ?? Infinity))
    }
    default: throw new Error(`no arbitrary for ${JSON.stringify(schema)}`)
  }
}

/** Values `schema` refuses, each a JSON value (bodies are never coerced, so a wrong type is one). */
export function invalid (raw: Schema, where: 'body' | 'query'): fc.Arbitrary<unknown> {
  const schema = resolve(raw)
  const options: fc.Arbitrary<unknown>[] = []
  // Query strings coerce ("5" is 5, "true" is true): there, only a value no coercion rescues is a wrong type.
  const wrongTypes = where === 'body'
    ? { string: [fc.integer(), fc.boolean(), fc.constant(null)], boolean: [fc.constant('true'), fc.integer({ min: 2 }), fc.constant(null)], integer: [fc.constant('5'), fc.double({ noInteger: true, noNaN: true, noDefaultInfinity: true }), fc.constant(null)] }
    : { string: [], boolean: [fc.constantFrom('yes', 'maybe', '2')], integer: [fc.constantFrom('x', '1.5', 'ten')] }
  if (schema.enum !== undefined) options.push(fc.constantFrom('urgent', 'HIGH', ''))
  if (schema.type === 'string' || schema.type === 'boolean' || schema.type === 'integer') options.push(...wrongTypes[schema.type])
  if (schema.type === 'integer') {
    if (schema.minimum !== undefined) options.push(fc.integer({ min: schema.minimum - 1000, max: schema.minimum - 1 }))
    if (schema.maximum !== undefined) options.push(fc.integer({ min: schema.maximum + 1, max: schema.maximum + 1000 }))
  }
  if (schema.type === 'string' && schema.enum === undefined) {
    // Too long, and nothing else wrong: no white space to trim, no control character.
    if (schema.maxLength !== undefined) options.push(fc.string({ minLength: schema.maxLength + 1, maxLength: schema.maxLength + 20 }).map((s) => s.replace(/[^!-~]/g, 'x')))
    if ((schema.minLength ?? 0) > 0) options.push(fc.constant(''))
    if (schema.format === 'date-time') options.push(fc.constantFrom('yesterday', '2026-13-01T00:00:00Z', '2026-01-01'))
    if (schema.pattern !== undefined) {
      const pattern = new RegExp(schema.pattern, 'u')
      options.push(fc.oneof(fc.string(), fc.constantFrom('\u0000x', 'a\u0007b', ' \u007f ', 'x'.repeat(201), ' '.repeat(3), 'color')).filter((s) => !pattern.test(s) && s !== ''))
    }
  }
  if (schema.type === 'array') {
    options.push(...(schema.items === undefined ? [] : [invalid(schema.items, where).filter((v) => typeof v === 'string' && v !== '').map((v) => [v])]))
  }
  if (options.length === 0) throw new Error(`no invalid arbitrary for ${JSON.stringify(schema)}`)
  return fc.oneof(...options)
}
