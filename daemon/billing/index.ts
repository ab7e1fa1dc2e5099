export { billingService, type BillingService } from './billing-service.js'
export { BudgetExceededError, InvalidBillingRequestError, StatementExchangeError } from './errors.js'
