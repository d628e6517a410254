import { Ajv, type AnySchema, type ErrorObject, type Options, type ValidateFunction } from 'ajv'
import ajvFormats from 'ajv-formats'
import type { FastifySchemaValidationError } from 'fastify'
import type { FieldError } from './errors.js'
import { DESCRIPTION_CONTROL_MESSAGE, hasForbiddenDescriptionCharacters, titleProblems } from './store/rules.js'

// ajv-formats is CommonJS: under native ESM its plugin is the `default` of the default import.
const addFormats = ajvFormats.default

/**
 * Bodies are checked strictly: no type coercion, no silent stripping of unknown fields, no
 * defaults filled in (the store owns defaults). Query strings, params and headers coerce as usual.
 * Every broken rule is reported, not only the first.
 */
const common: Options = { allErrors: true, removeAdditional: false, strict: true, addUsedSchema: false }
const BODY_OPTIONS: Options = { ...common, coerceTypes: false, useDefaults: false }
const OTHER_OPTIONS: Options = { ...common, coerceTypes: 'array', useDefaults: true }

type HttpPart = 'body' | 'querystring' | 'params' | 'headers'

/**
 * `"x-chat-text": "title" | "description"`: the store's rules that JSON Schema cannot say (a title is
 * measured after its trim; control characters), checked with the schema so that a 400 lists every
 * broken rule at once. The store checks them again for callers that do not come through HTTP.
 */
function validateChatText (kind: unknown, data: unknown): boolean {
  if (typeof data !== 'string') return true
  let messages: readonly string[] = []
  // An empty title is the schema's minLength to report; the description's length is its maxLength's.
  if (kind === 'title' && data !== '') messages = titleProblems(data.trim())
  if (kind === 'description' && hasForbiddenDescriptionCharacters(data)) messages = [DESCRIPTION_CONTROL_MESSAGE]
  // Ajv reads `errors` only after a false: a valid value leaves them as they were.
  if (messages.length === 0) return true
  validateChatText.errors = messages.map((message) => ({ keyword: 'x-chat-text', message, params: {} }))
  return false
}
validateChatText.errors = [] as Partial<ErrorObject>[]

/**
 * The schema as the service checks it: where `x-chat-text` checks a text, its `pattern` (which says
 * the same rule for the document's readers) is left out, so that one broken rule is one error with
 * the store's message, not two. Anything else is the schema itself.
 */
export function withoutDocumentedPatterns (schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(withoutDocumentedPatterns)
  if (typeof schema !== 'object' || schema === null) return schema
  const out: Record<string, unknown> = {}
  const textChecked = 'x-chat-text' in schema
  for (const [key, value] of Object.entries(schema)) {
    if (key === 'pattern' && textChecked) continue
    out[key] = withoutDocumentedPatterns(value)
  }
  return out
}

function makeAjv (options: Options, schemas: unknown[]): Ajv {
  const ajv = new Ajv(options)
  addFormats(ajv)
  ajv.addKeyword({ keyword: 'x-chat-text', schemaType: 'string', errors: true, validate: validateChatText })
  for (const schema of schemas) ajv.addSchema(withoutDocumentedPatterns(schema) as AnySchema)
  return ajv
}

/** Fastify's `schemaController.compilersFactory.buildValidator`. */
export function buildValidator (externalSchemas: Record<string, unknown>) {
  const shared = Object.values(externalSchemas)
  const body = makeAjv(BODY_OPTIONS, shared)
  const other = makeAjv(OTHER_OPTIONS, shared)
  return ({ schema, httpPart }: { schema: AnySchema, httpPart?: string }): ValidateFunction =>
    (httpPart === 'body' ? body : other).compile(withoutDocumentedPatterns(schema) as AnySchema)
}

/** One Ajv error as the contract's `errors` entry: the path names the field, also for unknown and missing ones. */
export function toFieldError (error: FastifySchemaValidationError | ErrorObject, part: HttpPart): FieldError {
  const params = error.params as Record<string, unknown>
  const path = error.instancePath
  if (error.keyword === 'additionalProperties') {
    const name = String(params.additionalProperty)
    return { in: part, path: `${path}/${name}`, message: part === 'body' ? 'is not a field of this resource' : 'is not a known parameter' }
  }
  if (error.keyword === 'required') {
    return { in: part, path: `${path}/${String(params.missingProperty)}`, message: 'is required' }
  }
  return { in: part, path, message: error.message ?? 'is invalid' }
}
