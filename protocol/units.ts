/**
 * Units, and sizes and durations as people write and read them (the CLI's flags, the web
 * UI's fields, messages). Sizes are binary whatever their spelling (1k = 1024 bytes), as
 * memory is counted.
 */

export const KiB = 1024
export const MiB = 1024 ** 2
export const GiB = 1024 ** 3
export const TiB = 1024 ** 4

export const SECOND_MS = 1000
export const MINUTE_MS = 60 * SECOND_MS
export const HOUR_MS = 60 * MINUTE_MS
export const DAY_MS = 24 * HOUR_MS
