import { z } from 'zod'
import { EnvironmentName, EnvironmentView, EnvProgress, RecipeName } from '../environments/environment.js'
import { defineRoute } from './route.js'
import { AbsolutePath } from './schemas.js'

const PREFIX = '/api/v1'

/** Routes of environments: named Docker images held, published and built as content. */
export const envRoutes = {
  envList: defineRoute({
    method: 'GET',
    path: `${PREFIX}/environments`,
    summary: 'environments this node published, built, fetched for jobs, or holds as labelled images',
    input: z.object({}),
    output: z.object({ environments: z.array(EnvironmentView) })
  }),
  envPublish: defineRoute({
    method: 'POST',
    path: `${PREFIX}/environments/publish`,
    summary: 'save a local image (or read a docker save tar), import it as a DAG (a file per layer) and record it under a name',
    input: z.object({
      /** a reference Docker knows (repo:tag or id) */
      image: z.string().min(1).max(512).optional(),
      /** a tar docker save wrote */
      file: AbsolutePath.optional(),
      /** default: the image's repository name (its org.floe.environment label for an image given by id) */
      name: EnvironmentName.optional()
    }).strict().refine(input => (input.image == null) !== (input.file == null), { message: 'give an image or a file, not both' }),
    output: EnvironmentView,
    progress: EnvProgress
  }),
  envPull: defineRoute({
    method: 'POST',
    path: `${PREFIX}/environments/pull`,
    summary: "pull an image from a registry with this node's Docker engine, then publish it as content under a name",
    input: z.object({
      /** [REGISTRY[:PORT]/]NAME[:TAG][@sha256:DIGEST] */
      image: z.string().min(1).max(512),
      /** default: the image's repository name */
      name: EnvironmentName.optional()
    }).strict(),
    output: EnvironmentView,
    // lines (layer states) always reach the client; byte counts are throttled (api/server.ts)
    progress: EnvProgress
  }),
  envBuild: defineRoute({
    method: 'POST',
    path: `${PREFIX}/environments/build`,
    summary: 'build an environment on one held here (apt packages, a Dockerfile without FROM), or from a built-in recipe, and publish it',
    input: z.object({
      name: EnvironmentName.optional(),
      from: z.string().min(1).max(128).optional(),
      apt: z.array(z.string().min(1).max(128)).max(256).default([]),
      file: AbsolutePath.optional(),
      recipe: RecipeName.optional()
    }).strict().refine(input => input.recipe != null || (input.name != null && input.from != null), { message: 'give NAME and --from ENV, or --recipe NAME' }),
    output: EnvironmentView,
    progress: EnvProgress,
    everyEvent: true
  }),
  envRemove: defineRoute({
    method: 'POST',
    path: `${PREFIX}/environments/rm`,
    summary: "forget an environment published or built here (its blocks go at the next gc; floe's tag of its image is removed)",
    input: z.object({ name: EnvironmentName }).strict(),
    output: z.object({ removed: z.string(), cid: z.string() })
  })
} as const
