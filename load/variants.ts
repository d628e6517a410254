/**
 * Copies of the built service with one piece taken out each, for `ab-bench.ts` to weigh what each
 * piece costs a request in the running service (an ablation: every copy but one piece is the
 * service as deployed). Not builds to run anywhere else: a copy without its parser or hook
 * answers differently. Run after `npm run build`:
 * `node --import tsx load/variants.ts <outDir>` writes `<outDir>/<name>/dist` for each name below
 * (`full` unchanged), with `node_modules` and `package.json` linked to this checkout's.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import path from 'node:path'

const ROOT = path.resolve(import.meta.dirname, '..')

/** File (under dist/), text to find, what replaces it. */
type Edit = [file: string, find: string, replace: string]

export const VARIANTS: Record<string, Edit[]> = {
  full: [],
  // Fastify's default JSON parser instead of ours (no merge-patch, no empty DELETE body).
  noparser: [
    ['app.js', 'app.removeContentTypeParser([\'application/json\', \'text/plain\']);', '/*'],
    ['app.js', '        void parseJson(request, body.toString(), done);\n    });', '*/']
  ],
  // Fastify's default Ajv (one instance, its own options) instead of the two of src/validation.ts.
  noajv: [
    ['app.js', 'schemaController: { compilersFactory: { buildValidator } }', ''],
    ['app.js', 'return503OnClosing: false,', 'return503OnClosing: false, ajv: { customOptions: { keywords: [\'x-chat-text\'] } },']
  ],
  norl: [
    ['app.js', 'await app.register(rateLimitPlugin, { config });', ''],
    ['app.js', 'notFoundPreHandler: app.rateLimit()', '']
  ],
  noup: [['app.js', 'await app.register(underPressurePlugin, { config });', '']],
  nometrics: [['app.js', 'await app.register(metricsPlugin);', '']],
  // No request-id hook and Fastify's own request ids.
  nohook: [
    ['app.js', '    app.addHook(\'onRequest\', (request, reply, done) => {', '    if (Math.random() > 2) app.addHook(\'onRequest\', (request, reply, done) => {'],
    ['app.js', '        genReqId: (req) => {', '        unusedGenReqId: (req) => {']
  ],
  // No logger at all (Fastify then makes no child logger per request).
  nolog: [
    ['server.js', 'logger: {', 'logger: false && {'],
    ['app.js', 'logController: new RequestLogController(),', '']
  ],
  // Handlers that do not write: a create answers one chat made once, a patch or replace reads the chat.
  nostore: [
    ['routes/chats.js', 'const chatsRoutes = async (app) => {', 'let fixed;\nconst chatsRoutes = async (app) => {'],
    ['routes/chats.js', 'const chat = await store.create(request.body);', 'const chat = fixed ??= await store.create(request.body);'],
    ['routes/chats.js', 'const chat = await store.update(request.params.id, request.body, { ifVersion: parseIfMatch(request.headers[\'if-match\']) });', 'const chat = await store.get(request.params.id); parseIfMatch(request.headers[\'if-match\']);'],
    ['routes/chats.js', 'const chat = await store.replace(request.params.id, request.body, { ifVersion: parseIfMatch(request.headers[\'if-match\']) });', 'const chat = await store.get(request.params.id); parseIfMatch(request.headers[\'if-match\']);']
  ]
}

export function makeVariants (outDir: string, names = Object.keys(VARIANTS)): string[] {
  if (!existsSync(path.join(ROOT, 'dist', 'server.js'))) throw new Error('dist/server.js is missing: run `npm run build` first')
  return names.map((name) => {
    const edits = VARIANTS[name]
    if (edits === undefined) throw new Error(`unknown variant ${name}: choose from ${Object.keys(VARIANTS).join(', ')}`)
    const dir = path.join(outDir, name)
    rmSync(dir, { recursive: true, force: true })
    mkdirSync(dir, { recursive: true })
    cpSync(path.join(ROOT, 'dist'), path.join(dir, 'dist'), { recursive: true })
    symlinkSync(path.join(ROOT, 'node_modules'), path.join(dir, 'node_modules'))
    symlinkSync(path.join(ROOT, 'package.json'), path.join(dir, 'package.json'))
    for (const [file, find, replace] of edits) {
      const target = path.join(dir, 'dist', file)
      const text = readFileSync(target, 'utf8')
      // A build that no longer holds the text would silently measure the full service.
      if (!text.includes(find)) throw new Error(`${name}: dist/${file} no longer holds ${JSON.stringify(find)}`)
      writeFileSync(target, text.replace(find, replace))
    }
    return dir
  })
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  const [outDir, list] = process.argv.slice(2)
  if (outDir === undefined) throw new Error('usage: variants.ts <outDir> [name,…]')
  process.stdout.write(makeVariants(path.resolve(outDir), list?.split(',')).join(' ') + '\n')
}
