import { z } from 'zod'
import { ImageId } from '../ids.js'

/**
 * Environments: a name (`busybox`, `python-3.11`, `pytorch-1.13-cpu`) for a Docker image that
 * travels between peers as content. The image is `docker save`'s tar as a UnixFS directory:
 * one file per tar member (manifest.json, the config, each layer's tar), so a layer two
 * images share is one file with one CID, fetched once.
 */

/** Image labels floe reads: the name, what the image holds, and what it runs on. */
export const ENVIRONMENT_LABEL = 'org.floe.environment'
export const DESCRIPTION_LABEL = 'org.floe.description'
export const ACCELERATOR_LABEL = 'org.floe.accelerator'

/** The repository floe tags environment images with: `floe-env/NAME:<first 12 hex of the id>`. */
export const ENVIRONMENT_REPOSITORY = 'floe-env'

/**
 * The repository images fetched for jobs are tagged in, by image id (`floe-fetched:<64 hex>`):
 * a name nobody installs by hand and no environment name maps to, so an image a job brought
 * can never stand for an environment name (environment names map through what the node's
 * owner installed: daemon/environments/installed.ts).
 */
export const FETCHED_REPOSITORY = 'floe-fetched'

/**
 * The repository of the engine's recipe cache (`floe-recipe/NAME:<hash of the recipe>`): a
 * floe tag, so a cached recipe image never counts as installed by hand (installed.ts).
 */
export const RECIPE_REPOSITORY = 'floe-recipe'

/** The most a DAG's manifest.json and image config may take (real ones are a few KiB). */
export const MAX_MANIFEST_BYTES = 1024 * 1024
export const MAX_CONFIG_BYTES = 4 * 1024 * 1024
/** The most members an image's tar may have (one image: a handful per layer). */
export const MAX_IMAGE_ENTRIES = 4096

/** Names are Docker repository path components, so an image can be tagged by them. */
export const EnvironmentName = z.string().regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, {
  message: 'an environment name is 1 to 64 lowercase letters, digits, ".", "_" or "-", starting with a letter or digit'
})

export { ImageId }

export const Accelerator = z.enum(['cpu', 'cuda'])
export type Accelerator = z.infer<typeof Accelerator>

/** The built-in recipes `floe env build --recipe NAME` knows. */
export const RECIPES = ['busybox', 'python-3.11', 'pytorch-1.13-cpu'] as const
export const RecipeName = z.enum(RECIPES)
export type RecipeName = z.infer<typeof RecipeName>

/**
 * How this node knows an environment: `published`, `built` or `pulled` (from a registry) here (a record name → CID), a
 * built-in `recipe` not built here yet (`floe env build --recipe NAME`),
 * `fetched` for a job (in the provider's cache), or `local`: an image labelled as an
 * environment in Docker that was never published (no CID).
 */
export const EnvironmentOrigin = z.enum(['published', 'built', 'pulled', 'fetched', 'local', 'recipe'])

/** One environment, as `floe env ls --json` prints it. */
export const EnvironmentView = z.object({
  name: z.string(),
  /** the root of the image's DAG; null for an image never published */
  cid: z.string().nullable(),
  imageId: z.string(),
  /** the image's size: the bytes of its `docker save` tar's members */
  bytes: z.number().nonnegative(),
  layers: z.number().int().nonnegative().nullable(),
  accelerator: Accelerator,
  description: z.string(),
  origin: EnvironmentOrigin,
  /** the image is in Docker now (a published one may be held as content only) */
  held: z.boolean(),
  /** a reference `docker run` takes, when held */
  image: z.string().nullable(),
  createdAt: z.string().nullable(),
  lastUsedAt: z.string().nullable(),
  /** how long building (or pulling) and publishing it took here, when this node made it */
  buildSeconds: z.number().nonnegative().nullable().default(null)
})
export type EnvironmentView = z.infer<typeof EnvironmentView>

/** Progress of publish, build and load: bytes where there are some, a line of text where there is one. */
export const EnvProgress = z.object({
  phase: z.enum(['pull', 'build', 'save', 'import', 'fetch', 'load']),
  bytes: z.number().nonnegative(),
  totalBytes: z.number().nonnegative().nullable(),
  message: z.string().max(4096).optional()
})
export type EnvProgress = z.infer<typeof EnvProgress>
