/** floe's version; test/unit/protocol/version.test.ts keeps it equal to package.json's. */
export const FLOE_VERSION = '0.1.0'
export const FLOE_AGENT = `floe/${FLOE_VERSION}`
