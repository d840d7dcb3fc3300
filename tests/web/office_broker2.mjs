// Browser test of the back office's broker, part 2 (issue 14, parts 4 and 5), run by
// tests/integration/test_web_office_broker2.py once the suite has a request with messages sent
// and a completed, unpaid assignment:
//
//   node tests/web/office_broker2.mjs <base-url> <outdir> '<json>'
//
// json: {"expert": [user, password], "municipal": [...], "request": a request id with
//        messages, "assignment": a completed unpaid assignment, "from": "YYYY-MM-DD",
//        "to": "YYYY-MM-DD" (a period for the statistics), "first": 89}
//
// In Debian's headless Chromium (a fresh profile per role): the expert coordinator follows the
// request page's link to the messages sent for it, searches a request with the form, chooses a
// period on the broker's statistics, downloads the payment export for a period, ticks the
// assignment with the keyboard and marks it paid with a reference, and sees the refusal of an
// empty selection; the municipal contact person is refused (403). Every state is checked by
// axe-core (WCAG 2.1 A and AA, 0 violations) and saved as <outdir>/office-9N-<name>.png.
import fs from 'node:fs';
import { officeScript } from './lib.mjs';

const { base, cfg, b } = officeScript('office_broker2.mjs', 89);

await b.run(async () => {
  const ex = await b.person('en-GB');
  await b.signIn(ex, cfg.expert);

  // ---- what was sent for a request: from the request's page ----
  await ex.goto(`${base}/office/broker/requests/${cfg.request}`);
  const link = `a[href="/office/sent?request=${cfg.request}#found"]`;
  b.check(await ex.isVisible(link), 'the request page links to its messages');
  await b.both(ex, 'broker-request-sent-link');
  await Promise.all([ex.waitForURL(`**/office/sent?request=${cfg.request}*`), ex.click(link)]);
  const rows = await ex.locator('table[aria-labelledby=found] tbody tr').count();
  const found = await ex.textContent('table[aria-labelledby=found]');
  b.check(rows >= 2 && found.includes(`request ${cfg.request}`) && found.includes('delivered'),
    `the messages sent for the request: ${rows} rows, delivered`);
  await b.both(ex, 'sent-by-request');

  // ... and by the search form, reached with the keyboard
  await ex.goto(base + '/office/sent');
  await b.tabTo(ex, (f) => f.id === 'f-request');
  await ex.keyboard.type(String(cfg.request));
  await Promise.all([ex.waitForURL('**/office/sent?request=*'), ex.keyboard.press('Enter')]);
  b.check((await ex.locator('table[aria-labelledby=found] tbody tr').count()) === rows,
    'the search form finds the same messages');

  // ---- the statistics for a period ----
  await ex.goto(base + '/office/broker/stats');
  await ex.fill('#f-from', cfg.from);
  await ex.fill('#f-to', cfg.to);
  await Promise.all([ex.waitForURL('**/office/broker/stats?from=*'),
    ex.click('form[action="/office/broker/stats"] button')]);
  const cap = await ex.textContent('caption');
  b.check(cap.includes(cfg.from) && cap.includes(cfg.to), `the period is named: ${cap.trim()}`);
  await b.both(ex, 'broker-stats-period');

  // ---- the payment export for a period (a download) ----
  await ex.goto(base + '/office/broker');
  await ex.fill('#f-from', cfg.from);
  await ex.fill('#f-to', cfg.to);
  const [dl] = await Promise.all([ex.waitForEvent('download'),
    ex.click('form[action="/office/broker/payments.csv"] button')]);
  const csv = fs.readFileSync(await dl.path(), 'utf8');
  b.check(csv.startsWith('assignment_id,') && csv.includes(`"${cfg.assignment}",`),
    'the export for the period downloads, with the unpaid assignment');
  await b.both(ex, 'broker-paid-form');

  // ---- marking paid: the box ticked with the keyboard, a reference, the button ----
  await b.tabTo(ex, (f) => f.id === `p-${cfg.assignment}`, 200);
  await ex.keyboard.press('Space');
  b.check(await ex.isChecked(`#p-${cfg.assignment}`), 'the assignment is ticked with Space');
  await ex.fill('#f-ref', 'erä 2026-12');
  await Promise.all([ex.waitForURL('**/office/broker?done=paid*'),
    ex.click('#paid-form button[type=submit]')]);
  const st = await ex.textContent('.done[role=status]');
  b.check(st.includes('Marked paid: 1') && st.includes('Already paid before: 0'),
    `the page says so: ${st.trim()}`);
  b.check(!(await ex.isVisible(`#p-${cfg.assignment}`)), 'the assignment is no longer payable');
  await b.both(ex, 'broker-paid-done');

  // ---- nothing chosen: the refusal, nothing changed ----
  await ex.fill('#f-ref', 'erä 2026-12');
  const [resp] = await Promise.all([ex.waitForNavigation(),
    ex.click('#paid-form button[type=submit]')]);
  b.check(resp && resp.status() === 400 &&
    (await b.text(ex)).includes('Choose at least one assignment'), 'an empty choice is 400');
  await b.both(ex, 'broker-paid-none');

  // ---- the municipal contact person ----
  const mu = await b.person('en-GB');
  await b.signIn(mu, cfg.municipal);
  await b.refused(mu, `/office/sent?request=${cfg.request}`,
    'the contact person cannot see what was sent for a request (403)', 'sent-request-refused');
  b.check(await b.status(mu, '/office/broker/stats?from=' + cfg.from) === 403,
    'nor the broker statistics (403)');
});
