/** A job whose worst case (price × time limit) passes what its budgets leave, submitted without --allow-partial. */
export class BudgetExceededError extends Error {
  override name = 'BudgetExceededError'
}

/** A billing request that cannot be done as asked: a bad amount, a project or peer it cannot apply to. */
export class InvalidBillingRequestError extends Error {
  override name = 'InvalidBillingRequestError'
}

/** The counterparty would not exchange a statement or sign a settlement (unreachable, refused, a bad signature). */
export class StatementExchangeError extends Error {
  override name = 'StatementExchangeError'
}
