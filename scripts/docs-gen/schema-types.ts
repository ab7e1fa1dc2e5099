import { z } from 'zod'

/** The parts of a JSON Schema (as zod 4's `z.toJSONSchema` writes it) this page reads. */
export interface JsonSchema {
  type?: string | string[]
  properties?: Record<string, JsonSchema>
  required?: string[]
  additionalProperties?: boolean | JsonSchema
  items?: JsonSchema | JsonSchema[]
  prefixItems?: JsonSchema[]
  anyOf?: JsonSchema[]
  oneOf?: JsonSchema[]
  allOf?: JsonSchema[]
  enum?: unknown[]
  const?: unknown
  default?: unknown
  minimum?: number
  maximum?: number
  maxLength?: number
  maxItems?: number
  pattern?: string
  [other: string]: unknown
}

export type Io = 'input' | 'output'

/** A zod schema as JSON Schema, for what is sent (`input`: defaults optional) or answered. */
export function jsonSchema (schema: z.ZodType, io: Io): JsonSchema {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as JsonSchema
  return rest
}

/**
 * Writes JSON Schemas as short TypeScript-like types (`{ ref: string, after?: integer }`).
 * A schema equal to a named one (an exported zod schema such as JobView) is written as its
 * name, and the names used are collected so the page can describe each once.
 */
export class TypeWriter {
  readonly used = new Map<string, JsonSchema>()
  private readonly names = new Map<string, string>()

  constructor (named: Record<string, z.ZodType>, readonly io: Io) {
    for (const [name, schema] of Object.entries(named)) {
      const key = JSON.stringify(jsonSchema(schema, io))
      if (!this.names.has(key)) this.names.set(key, name)
    }
  }

  /** The name of a schema equal to `schema`, if one is named. */
  nameOf (schema: JsonSchema): string | undefined {
    return this.names.get(JSON.stringify(schema))
  }

  /** `schema` as a type; a named schema as its name unless `expand`. */
  write (schema: JsonSchema, expand = false): string {
    const name = expand ? undefined : this.nameOf(schema)
    if (name != null) {
      this.used.set(name, schema)
      return name
    }
    const union = schema.anyOf ?? schema.oneOf
    if (union != null) return union.map(s => this.write(s)).join(' | ')
    if (schema.allOf != null) return schema.allOf.map(s => this.write(s)).join(' & ')
    if (schema.enum != null) return schema.enum.map(v => JSON.stringify(v)).join(' | ')
    if (schema.const !== undefined) return JSON.stringify(schema.const)
    const type = Array.isArray(schema.type) ? schema.type : schema.type != null ? [schema.type] : []
    if (type.length > 1) return type.map(t => this.write({ ...schema, type: t })).join(' | ')
    switch (type[0]) {
      case 'object': return this.object(schema)
      case 'array': return this.array(schema)
      case 'string': case 'number': case 'integer': case 'boolean': case 'null': return type[0]
      default: return 'any'
    }
  }

  /** Each property of an object: name (`?` when optional), type, default. */
  fields (schema: JsonSchema): Array<{ name: string, type: string, default?: unknown }> {
    const required = new Set(schema.required ?? [])
    return Object.entries(schema.properties ?? {}).map(([name, property]) => ({
      name: required.has(name) ? name : `${name}?`,
      type: this.write(property),
      ...(property.default !== undefined ? { default: property.default } : {})
    }))
  }

  private object (schema: JsonSchema): string {
    const fields = this.fields(schema)
    const extra = typeof schema.additionalProperties === 'object' ? this.write(schema.additionalProperties) : null
    if (fields.length === 0) return extra != null ? `Record<string, ${extra}>` : '{}'
    return `{ ${fields.map(f => `${f.name}: ${f.type}`).join(', ')}${extra != null ? `, [key: string]: ${extra}` : ''} }`
  }

  private array (schema: JsonSchema): string {
    if (schema.prefixItems != null) return `[${schema.prefixItems.map(s => this.write(s)).join(', ')}]`
    const items = Array.isArray(schema.items) ? schema.items : schema.items != null ? [schema.items] : []
    if (items.length !== 1) return `[${items.map(s => this.write(s)).join(', ')}]`
    const item = this.write(items[0] as JsonSchema)
    return /[|&]/.test(item) && !item.startsWith('{') ? `Array<${item}>` : `${item}[]`
  }
}
