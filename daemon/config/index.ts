export { Config, DEFAULT_CONFIG, ProviderSettings, loadConfig, saveConfig } from './config.js'
export { parseApiAddress, type ApiAddress } from './api-address.js'
export { ConfigError } from './errors.js'
