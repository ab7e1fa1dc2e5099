import { z } from 'zod'
import * as environment from '../../protocol/environments/environment.js'
import * as jobs from '../../protocol/jobs/job.js'
import * as metrics from '../../protocol/jobs/metrics.js'
import * as receipts from '../../protocol/jobs/receipt.js'
import * as specs from '../../protocol/jobs/spec.js'
import * as jobViews from '../../protocol/jobs/view.js'
import * as offers from '../../protocol/market/offer.js'
import * as requirements from '../../protocol/market/requirements.js'
import * as settings from '../../protocol/market/settings.js'
import * as projectViews from '../../protocol/projects/view.js'
import * as envRoutes from '../../protocol/api/env-routes.js'
import * as projectRoutes from '../../protocol/api/project-routes.js'
import * as coreRoutes from '../../protocol/api/routes.js'
import * as schemas from '../../protocol/api/schemas.js'
import * as uiRoutes from '../../protocol/api/ui-routes.js'
import * as workspaceRoutes from '../../protocol/api/workspace-routes.js'
import type { RouteDef } from '../../protocol/api/route.js'
import { cell, GENERATED_NOTE } from './markdown.js'
import { jsonSchema, TypeWriter, type JsonSchema } from './schema-types.js'

/**
 * The exported zod schemas of the protocol modules the routes use: a route's input or
 * output equal to one is written as its name, and the name described once at the end.
 * Plain strings (PeerIdString, CidString…) stay inline: their name says less than `string`.
 */
function namedSchemas (): Record<string, z.ZodType> {
  const named: Record<string, z.ZodType> = {}
  for (const module of [coreRoutes, projectRoutes, envRoutes, workspaceRoutes, uiRoutes, schemas, jobViews, specs, receipts, jobs, metrics, offers, requirements, settings, projectViews, environment]) {
    for (const [name, value] of Object.entries(module)) {
      if (/^[A-Z][a-z]/.test(name) && value instanceof z.ZodObject && !(name in named)) named[name] = value
    }
  }
  return named
}

/** The route files, in the order the page lists them. */
const ROUTE_FILES: Array<{ file: string, keys: string[] }> = [
  { file: 'protocol/api/project-routes.ts', keys: Object.keys(projectRoutes.projectRoutes) },
  { file: 'protocol/api/env-routes.ts', keys: Object.keys(envRoutes.envRoutes) },
  { file: 'protocol/api/workspace-routes.ts', keys: Object.keys(workspaceRoutes.workspaceRoutes) },
  { file: 'protocol/api/ui-routes.ts', keys: Object.keys(uiRoutes.uiRoutes) }
]

/**
 * docs/api.md from the route table (`routes` in protocol/api/routes.ts, which spreads the
 * other *-routes.ts): every route's method, path, summary, input, output and progress, the
 * types as zod's JSON Schema describes them; and the raw paths the route files declare.
 */
export function apiReference (): string {
  const named = namedSchemas()
  const input = new TypeWriter(named, 'input')
  const output = new TypeWriter(named, 'output')
  const all = coreRoutes.routes as unknown as Record<string, RouteDef>
  const elsewhere = new Set(ROUTE_FILES.flatMap(f => f.keys))
  const groups = [{ file: 'protocol/api/routes.ts', keys: Object.keys(all).filter(k => !elsewhere.has(k)) }, ...ROUTE_FILES]

  const lines = [
    '# floe HTTP API reference',
    '',
    GENERATED_NOTE,
    '',
    'The daemon serves its API on 127.0.0.1 only (the `api` setting), versioned under `/api/v1`.',
    'Every request is checked before routing: a `Host` that is not loopback → 403 (DNS rebinding);',
    'an `Origin` that is not the daemon\'s own → 403; no or a wrong `Authorization: Bearer <api-token>`',
    '(the token is the file `api-token` in the daemon\'s home, mode 0600), and no web UI session',
    'cookie, → 401. Errors are JSON `{"error": {"name", "message"}}`; the name decides the status in',
    'one place (`protocol/api/errors.ts`).',
    '',
    'GET routes take their input from the query string, POST routes from a JSON body. A route',
    'marked **NDJSON** is long: it answers `application/x-ndjson`, zero or more',
    '`{"progress": …}` lines, then one `{"result": …}` line or one `{"error": {name, message}}`',
    'line. Progress is sent at most every 100 ms unless the route sends every event.',
    '',
    'Routes and their schemas (zod) are declared once in `protocol/api/`; the server validates what',
    'it receives and answers against them, and the typed client (`client/api-client.ts`, shared by',
    'the CLI and the web UI) builds requests and checks replies from them. Types below are written',
    'TypeScript-style from the schemas: `name?` is optional, `integer` a whole number.',
    '',
    '## Routes',
    '',
    '| route | method | path | what it does |',
    '| --- | --- | --- | --- |',
    ...groups.flatMap(g => g.keys).map(key => {
      const route = all[key] as RouteDef
      return `| [\`${key}\`](#${key.toLowerCase()}) | ${route.method} | \`${route.path}\` | ${cell(route.summary)} |`
    }),
    ''
  ]

  for (const group of groups) {
    lines.push(`## From \`${group.file}\``, '')
    for (const key of group.keys) {
      const route = all[key] as RouteDef
      lines.push(`### \`${key}\``, '', `\`${route.method} ${route.path}\`${route.progress != null ? ' — **NDJSON**' : ''}`, '', route.summary, '')
      const body = jsonSchema(route.input, 'input')
      const fields = input.fields(body)
      const where = route.method === 'GET' ? 'query' : 'JSON body'
      if (fields.length === 0) lines.push(`Input: none.`, '')
      else {
        const inputName = input.nameOf(body)
        lines.push(`Input (${where})${inputName != null ? `: \`${inputName}\`` : ''}:`, '', '| field | type | default |', '| --- | --- | --- |')
        for (const f of fields) lines.push(`| \`${f.name}\` | \`${cell(f.type)}\` | ${f.default === undefined ? '' : `\`${cell(JSON.stringify(f.default))}\``} |`)
        lines.push('')
      }
      lines.push(`Output: \`${cell(output.write(jsonSchema(route.output, 'output')))}\``, '')
      if (route.progress != null) lines.push(`Progress${route.everyEvent === true ? ' (every event)' : ''}: \`${cell(output.write(jsonSchema(route.progress, 'output')))}\``, '')
    }
  }

  lines.push(...rawPaths())
  lines.push(...namedTypes(input, output))
  return lines.join('\n')
}

/** Paths the route files declare outside the table: raw bytes and the terminal's WebSocket. */
function rawPaths (): string[] {
  const raw = uiRoutes.RAW_PATHS
  const rows: Array<[string, string, string]> = [
    ['GET', `${raw.contentFile}?cid=&path=[&download=1]`, "a file's bytes from UnixFS content"],
    ['GET', `${raw.contentTar}?cid=&name=`, 'the whole DAG as a .tar'],
    ['GET', `${raw.contentCar}?cid=`, 'the whole DAG as a CARv1 file'],
    ['PUT', `${raw.uploadFile}?id=&path=`, 'one file of a browser upload; the body is its bytes (see `uploadCreate`, `uploadFinish`)'],
    ['GET', `${raw.uiLogin}?token=`, 'exchanges a `floe ui` token for an HttpOnly, SameSite=Strict session cookie, then shows the UI'],
    ['POST', raw.uiSignOut, "ends the browser's session"],
    ['GET', raw.uiSession, '`{ signedIn }`: whether this browser\'s session is live'],
    ['GET (WebSocket)', `${workspaceRoutes.SHELL_PATH}?ref=&cols=&rows=[&command=]`, `a workspace terminal: binary frames are its bytes both ways (at most ${workspaceRoutes.SHELL_MAX_FRAME_BYTES / 1024} KiB a frame), text frames JSON control (resize, eof; ready, exit, error)`]
  ]
  return [
    '## Raw paths',
    '',
    'Declared in `protocol/api/ui-routes.ts` (`RAW_PATHS`) and `protocol/api/workspace-routes.ts`',
    '(`SHELL_PATH`), registered by hand by the server: their bodies are bytes, not JSON. They are',
    'checked like the routes (loopback Host, own Origin, the token or a web UI session).',
    '',
    '| method | path | what it does |',
    '| --- | --- | --- |',
    ...rows.map(([method, path, what]) => `| ${method} | \`${cell(path)}\` | ${cell(what)} |`),
    ''
  ]
}

/** Each named type the routes used, once, with its fields (input and output forms where they differ). */
function namedTypes (input: TypeWriter, output: TypeWriter): string[] {
  const lines = ['## Types', '', 'Schemas the routes share, named as exported from `protocol/`.', '']
  const described = new Set<string>()
  // describing a type can use further named types: go on until none is new
  for (let grew = true; grew;) {
    grew = false
    for (const [writer, io] of [[input, 'input'], [output, 'output']] as const) {
      for (const [name, schema] of [...writer.used].sort(([a], [b]) => a.localeCompare(b))) {
        const key = `${name} ${io}`
        if (described.has(key)) continue
        described.add(key)
        grew = true
        lines.push(...describeType(writer, name, io, schema, input.used.has(name) && output.used.has(name)))
      }
    }
  }
  return lines
}

function describeType (writer: TypeWriter, name: string, io: 'input' | 'output', schema: JsonSchema, both: boolean): string[] {
  const fields = writer.fields(schema)
  const heading = both ? `### \`${name}\` (${io === 'input' ? 'as sent' : 'as answered'})` : `### \`${name}\``
  if (fields.length === 0) return [heading, '', `\`${cell(writer.write(schema, true))}\``, '']
  return [
    heading, '',
    '| field | type | default |', '| --- | --- | --- |',
    ...fields.map(f => `| \`${f.name}\` | \`${cell(f.type)}\` | ${f.default === undefined ? '' : `\`${cell(JSON.stringify(f.default))}\``} |`),
    ''
  ]
}
