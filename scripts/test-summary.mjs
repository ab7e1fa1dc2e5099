// Prints the suite's closing line, "N passed, N failed", from vitest's JSON report (skipped
// tests, opt-in ones, on the line before), so a run that executed nothing shows as
// "0 passed, 0 failed".
import { readFileSync } from 'node:fs'

const file = process.argv[2]
let report
try {
  report = JSON.parse(readFileSync(file, 'utf8'))
} catch (err) {
  console.log(`test runner wrote no results (${err.message})`)
  console.log('0 passed, 0 failed')
  process.exit(1)
}
const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0)
if (skipped > 0) console.log(`${skipped} skipped (opt-in tests; see README, Development)`)
console.log(`${report.numPassedTests} passed, ${report.numFailedTests} failed`)
process.exit(report.numTotalTests > 0 && report.numFailedTests === 0 && report.success !== false ? 0 : 1)
