// Browser test of kumppani-web (issue 13), run by tests/integration/test_web_browser.py:
//
//   node tests/web/flow.mjs <base-url> <outdir> <event-id>
//   node tests/web/flow.mjs <base-url> <outdir> --page <name> <path>   (one page: screenshot
//                                                                      and axe only)
//
// In Debian's headless Chromium (playwright-core, a fresh user-data-dir):
//  1. the whole flow with the keyboard alone and JavaScript off in the page: calendar ->
//     event -> sign-up form (first sent with an error, then corrected) -> confirmation ->
//     personal link -> cancel; only Tab, Shift+Tab, Enter, Space, arrows and typing;
//  2. every page checked by axe-core under the wcag2a, wcag2aa, wcag21a and wcag21aa tags
//     (0 violations required), in Finnish, Swedish and English;
//  3. a full-page screenshot of every page in <outdir>, paths printed;
//  4. no page scrolls sideways at 320 CSS px (WCAG 1.4.10), in the three languages.
// Exit code 0 only if every check passed; the last line is a JSON summary.
import { Browser } from './lib.mjs';

const [base, outdir, eventId, onePath] = process.argv.slice(2).filter((a) => a !== '--page');
const onePage = process.argv.includes('--page');
if (!base || !outdir || !eventId) {
  console.error('usage: node flow.mjs <base-url> <outdir> <event-id>');
  process.exit(2);
}
const b = new Browser({ base, outdir, mask: (u) => u.replace(/\/s\/[A-Za-z0-9_-]+/, '/s/<token>') });

await b.run(async () => {
  if (onePage) {
    // eventId is the page's name here, onePath its path.
    const p = await b.person('fi-FI');
    const resp = await p.goto(base + onePath);
    console.log(`status: ${resp.status()}`);
    await b.both(p, eventId);
    return;
  }
  // ---- 1. the keyboard-only flow, with JavaScript off in the page -------------------------
  const page = await b.person('fi-FI', { js: false });
  const seen = [];
  page.on('response', (r) => {
    const h = r.headers();
    seen.push({ status: r.status(), csp: h['content-security-policy'] || '' });
  });
  await page.goto(base + '/');
  await b.shot(page, 'calendar-fi');
  b.check((await page.title()).includes('Tapahtumakalenteri'), 'the calendar opens in Finnish');
  // The skip link is the first stop and jumps to the content.
  await page.keyboard.press('Tab');
  b.check(await page.evaluate(() => document.activeElement.classList.contains('skip')),
    'the first Tab reaches the skip link');
  let tabs = await b.pressOn(page, (f) => f.tag === 'a' && f.href === `/events/${eventId}`,
    'Enter');
  await page.waitForURL(`**/events/${eventId}`);
  await b.shot(page, 'event');
  b.check(true, `event reached with ${tabs} Tabs and Enter`);
  tabs = await b.pressOn(page, (f) => f.tag === 'a' && f.href === `/events/${eventId}/signup`,
    'Enter');
  await page.waitForURL(`**/events/${eventId}/signup`);
  await b.shot(page, 'signup-form');
  b.check(true, `sign-up form reached with ${tabs} Tabs and Enter`);

  // Send it once with the name missing: the error is summarised and shown beside the field.
  await b.typeInto(page, 'f-email', 'maija.meikalainen@example.fi');
  await b.pressOn(page, (f) => f.id === 'f-role', 'ArrowDown');
  await b.sendByKeys(page);
  await b.shot(page, 'signup-errors');
  const errText = await page.textContent('.error-summary');
  b.check(errText && errText.includes('Nimi'), 'the error summary names the name field');
  await b.invalid(page, '#f-name', 'the name field is marked invalid, with its message beside it');
  b.check(await page.inputValue('#f-email') === 'maija.meikalainen@example.fi',
    'the values sent stay filled in');
  // From the summary's link to the field, by keyboard.
  await page.keyboard.press('Tab'); // skip link
  await b.pressOn(page, (f) => f.tag === 'a' && f.href === '#f-name', 'Enter');
  // Following the summary's link moves focus to the field (or just before it).
  if (await page.evaluate(() => document.activeElement.id) !== 'f-name') {
    await b.tabTo(page, (f) => f.id === 'f-name', 5);
  }
  b.check(await page.evaluate(() => document.activeElement.id) === 'f-name',
    'the summary link leads the keyboard to the name field');
  await page.keyboard.type('Maija Meikäläinen');
  await b.pressOn(page, (f) => f.id === 'f-consent_reminders', 'Space');
  b.check(await page.isChecked('#f-consent_reminders'), 'Space ticks the reminders consent');
  await b.typeInto(page, 'f-accessibility_text', 'Induktiosilmukka');
  await b.pressOn(page, (f) => f.id === 'f-consent_needs', 'Space');
  await b.sendByKeys(page);
  await b.shot(page, 'confirmation');
  const h1 = await page.textContent('h1');
  b.check(h1.includes('Olet ilmoittautunut') || h1.includes('Olet jonossa'),
    'the confirmation says signed up: ' + h1.trim());
  tabs = await b.pressOn(page, (f) => f.tag === 'a' && f.href.includes('/s/'), 'Enter');
  await page.waitForURL('**/s/**');
  // The read model follows the log; reload (F5 by keyboard) until the state shows.
  for (let i = 0; i < 50; i++) {
    if ((await page.textContent('main')).includes('Paikkasi on vahvistettu')) break;
    await page.waitForTimeout(100);
    await page.reload();
  }
  await b.shot(page, 'personal');
  b.check((await page.textContent('main')).includes('Paikkasi on vahvistettu'),
    'the personal page shows the confirmed sign-up');
  const personalPath = new URL(page.url()).pathname;
  await b.pressOn(page, (f) => f.tag === 'button' && f.text.includes('Peru'), 'Space');
  await page.waitForLoadState();
  await page.waitForSelector('.done');
  await b.shot(page, 'personal-cancelled');
  b.check((await page.textContent('main')).includes('Ilmoittautumisesi on nyt peruttu'),
    'Space on the button cancels');
  await b.redirected(page, personalPath, 'cancel', 'Ilmoittautumisesi on nyt peruttu',
    'the cancel');
  b.check(seen.every((s) => s.csp.includes("frame-ancestors 'none'")),
    `every response (${seen.length}) carried the CSP`);
  const personalUrl = page.url();
  await page.context().close();

  // ---- 2. axe on every page, with JavaScript on for axe only ------------------------------
  const p2 = await b.person('fi-FI');
  const pages = [
    ['calendar', '/'], ['calendar-filtered', `/?municipality=743&kind=1`],
    ['event', `/events/${eventId}`], ['signup-form', `/events/${eventId}/signup`],
    ['accessibility', '/accessibility'], ['privacy', '/privacy'],
    ['link-invalid', '/s/AQEAAAAAAAAAAQAAAAAAAAABAAAAAGs2L6sZmYQRvHqKZlmlpaztLIps4pf_AA5srYq0lC9'],
    ['not-found', '/no-such-page'],
    ['personal-cancelled', personalUrl.replace(base, '')],
  ];
  for (const [name, p] of pages) {
    await p2.goto(base + p);
    await b.axe(p2, name);
    await b.reflow(p2, name);
  }
  for (const lang of ['sv', 'en']) {
    await p2.goto(`${base}/?lang=${lang}`);
    await b.shot(p2, 'calendar-' + lang);
    await b.axe(p2, 'calendar-' + lang);
    await p2.goto(`${base}/events/${eventId}/signup`);
    await b.shot(p2, 'signup-form-' + lang);
    await b.axe(p2, 'signup-form-' + lang);
    await b.reflow(p2, 'signup-form-' + lang);
    for (const [name, p] of [['calendar', '/'], ['event', `/events/${eventId}`],
      ['accessibility', '/accessibility'], ['privacy', '/privacy']]) {
      await p2.goto(base + p);
      await b.reflow(p2, `${name}-${lang}`);
    }
  }
  await p2.goto(base + '/?lang=fi');
  // Pages only reachable by a post: errors, confirmation, feedback.
  await p2.goto(`${base}/events/${eventId}/signup`);
  await p2.click('button[type=submit]');
  await p2.waitForLoadState();
  await b.axe(p2, 'signup-errors');
  await b.fill(p2, { '#f-name': 'Liisa Virtanen', '#f-email': 'liisa.virtanen@example.fi',
    '#f-role': '2' });
  await p2.click('button[type=submit]');
  await p2.waitForLoadState();
  await b.axe(p2, 'confirmation');
  await p2.goto(base + '/accessibility');
  await b.shot(p2, 'accessibility');
  await p2.click('button[type=submit]');
  await p2.waitForLoadState();
  await b.shot(p2, 'accessibility-feedback-error');
  await b.axe(p2, 'accessibility-feedback-error');
  await p2.fill('#f-message', 'Kontrasti on hyvä.');
  await p2.click('button[type=submit]');
  await p2.waitForLoadState();
  b.check(p2.url().endsWith('/accessibility?done=feedback#feedback') &&
    (await p2.textContent('[role=status]')).includes('Kiitos palautteestasi'),
    `the feedback is answered by a redirect to its thanks (${p2.url()})`);
  await b.shot(p2, 'accessibility-feedback-thanks');
  await b.axe(p2, 'accessibility-feedback-thanks');
  await p2.reload();
  b.check((await p2.textContent('[role=status]')).includes('Kiitos palautteestasi'),
    'a reload of the thanks shows it again (the feedback is not sent twice)');
  await p2.goto(base + '/privacy');
  await b.shot(p2, 'privacy');
  await p2.goto(pages[6][1] ? base + pages[6][1] : base);
  await b.shot(p2, 'link-invalid');
  await p2.goto(base + '/no-such-page');
  await b.shot(p2, 'not-found');
});
