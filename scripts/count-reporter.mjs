/**
 * A node:test reporter that counts leaf tests (not suites) and writes {passed, failed, skipped}
 * as JSON to its destination when the run ends. Used next to the human-readable spec reporter.
 */
export default async function* countReporter(source) {
  const counts = { passed: 0, failed: 0, skipped: 0, failures: [] };
  for await (const event of source) {
    const d = event.data ?? {};
    if (event.type === 'test:pass' && d.details?.type !== 'suite') {
      if (d.skip || d.todo) counts.skipped++;
      else counts.passed++;
    } else if (event.type === 'test:fail' && d.details?.type !== 'suite') {
      counts.failed++;
      counts.failures.push(`${d.file ?? ''} › ${d.name}`);
    } else if (event.type === 'test:fail' && d.details?.type === 'suite' && d.details?.error?.failureType === 'hookFailed') {
      counts.failed++;
      counts.failures.push(`${d.file ?? ''} › ${d.name} (hook)`);
    }
  }
  yield JSON.stringify(counts);
}
