import type { Reporter, TestModule } from 'vitest/node';

/**
 * Prints the tests that were skipped (with the reason each gives) and, as the very last line,
 * `N passed, N failed, N skipped`: the line CI reads. A test file that fails to load, and an
 * unhandled error, each count as one failure so that nothing can fail silently.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    let passed = 0;
    let failed = unhandledErrors.length;
    const skipped: string[] = [];
    for (const mod of modules) {
      let tests = 0;
      for (const test of mod.children.allTests()) {
        tests++;
        const result = test.result();
        if (result.state === 'passed') passed++;
        else if (result.state === 'failed') failed++;
        else if (result.state === 'skipped') {
          skipped.push(`${test.fullName}${result.note ? ` (${result.note})` : ''}`);
        }
      }
      if (tests === 0 && mod.state() === 'failed') failed++;
    }
    if (skipped.length > 0) {
      process.stdout.write(`\nskipped:\n${skipped.map((s) => `  - ${s}`).join('\n')}\n`);
    }
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped.length} skipped\n`);
  }
}
