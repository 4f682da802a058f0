// How long the case page takes to show a case of many events: a real
// `casegrid serve` with the browser tests' grid, one case given N notes by
// raw appends (1,000 to an append), the page opened in headless chromium,
// its timeline's rows counted each second until all are shown. Not a test
// (it asserts nothing and CTest does not run it): docs/screens.md gives the
// figures it measured.
//
// Usage: node tests/browser/timeline_bench.mjs path/to/casegrid [notes, default 8990]
import { startServer, seedCity, launchBrowser, OFFICER_CELL } from './support.mjs';

const [binary, notesArg] = process.argv.slice(2);
const notes = Number(notesArg ?? 8990);
const server = await startServer(binary);
try {
  await seedCity(server);
  const admin = server.api(server.token('admin-1', 'admin'));
  const officer = server.api(server.token('officer-7', 'officer', [OFFICER_CELL]));
  const { case_id: id } = await officer.report({ cell: OFFICER_CELL, summary: 'a long-running dispute' });
  for (let from = 0; from < notes; from += 1000) {
    const n = Math.min(1000, notes - from);
    const events = Array.from({ length: n }, (_, i) => ({ type: 'NoteAdded', id: `bench-${from + i}`, data: { text: `note ${from + i}` } }));
    await admin.post(`/api/v1/streams/${encodeURIComponent(`case/${id}`)}`, { expected_version: 1 + from, events });
  }
  const browser = await launchBrowser();
  try {
    const page = await (await browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
    const start = Date.now();
    await page.goto(`${server.base}/case/${id}?token=${server.token('operator-1', 'operator')}`);
    for (;;) {
      const rows = await page.evaluate(() => document.querySelectorAll('#timeline li').length);
      console.log(`${((Date.now() - start) / 1000).toFixed(1)} s: ${rows} rows`);
      if (rows === notes + 1) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    console.log(`timeline_rows: ${notes + 1}\ntimeline_seconds: ${((Date.now() - start) / 1000).toFixed(2)}`);
  } finally {
    await browser.close();
  }
} finally {
  await server.stop();
}
