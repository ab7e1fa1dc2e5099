import { z } from 'zod'

/** What this machine measured for its offer (see daemon/market/resources). */
export const ResourcesView = z.object({
  cpu: z.object({ model: z.string().nullable(), cores: z.number() }),
  memory: z.object({ totalBytes: z.number(), availableBytes: z.number() }),
  disk: z.object({ path: z.string(), freeBytes: z.number(), totalBytes: z.number() }),
  gpus: z.array(z.object({ index: z.number(), uuid: z.string(), model: z.string(), memoryBytes: z.number().nullable(), driverVersion: z.string().nullable(), cudaVersion: z.string().nullable() })),
  gpuError: z.string().nullable(),
  docker: z.object({ available: z.boolean(), version: z.string().nullable(), error: z.string().nullable(), environments: z.array(z.object({ name: z.string(), image: z.string() })) })
})
export type ResourcesView = z.infer<typeof ResourcesView>
