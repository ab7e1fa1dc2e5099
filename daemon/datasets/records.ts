import type { ClassicLevel } from 'classic-level'
import { DATASET_NAME_PATTERN, type Dataset } from '../../protocol/datasets/dataset.js'
import { InvalidDatasetNameError } from './errors.js'

/** Dataset versions in the index DB: `dataset!NAME!VERSION(10 digits)` → the record as JSON. */
export type DatasetIndex = Pick<ClassicLevel<string, string>, 'get' | 'batch' | 'iterator'>

const PREFIX = 'dataset!'
const NAME = DATASET_NAME_PATTERN

export function checkDatasetName (name: string): string {
  if (!NAME.test(name)) {
    throw new InvalidDatasetNameError(`"${name}" is not a valid dataset name: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit`)
  }
  return name
}

export function datasetKey (name: string, version: number): string {
  return `${PREFIX}${name}!${String(version).padStart(10, '0')}`
}

/** Every version of one dataset, or of all datasets; newest version first within a name. */
export async function listDatasets (index: DatasetIndex, name?: string): Promise<Dataset[]> {
  const range = name == null
    ? { gte: PREFIX, lt: `${PREFIX}\xff` }
    : { gte: `${PREFIX}${name}!`, lt: `${PREFIX}${name}!\xff` }
  const records: Dataset[] = []
  for await (const [, value] of index.iterator(range)) records.push(JSON.parse(value) as Dataset)
  return records.sort((a, b) => a.name === b.name ? b.version - a.version : a.name.localeCompare(b.name))
}

export async function latestDataset (index: DatasetIndex, name: string): Promise<Dataset | undefined> {
  for await (const [, value] of index.iterator({ gte: `${PREFIX}${name}!`, lt: `${PREFIX}${name}!\xff`, reverse: true, limit: 1 })) {
    return JSON.parse(value) as Dataset
  }
  return undefined
}

export async function getDataset (index: DatasetIndex, name: string, version: number): Promise<Dataset | undefined> {
  const value = await index.get(datasetKey(name, version))
  return value == null ? undefined : JSON.parse(value) as Dataset
}
