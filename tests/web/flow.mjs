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
//  3. a full-page screenshot of every page in <outdir>, paths printed.
// Exit code 0 only if every check passed; the last line is a JSON summary.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [base, outdir, eventId, onePath] = process.argv.slice(2).filter((a) => a !== '--page');
const onePage = process.argv.includes('--page');
if (!base || !outdir || !eventId) {
  console.error('usage: node flow.mjs <base-url> <outdir> <event-id>');
  process.exit(2);
}
fs.mkdirSync(outdir, { recursive: true });

const failures = [];
const shots = [];
const axeResults = [];
let shotN = fs.readdirSync(outdir).filter((f) => f.endsWith('.png')).length;

function check(cond, what) {
  console.log((cond ? 'ok: ' : 'FAIL: ') + what);
  if (!cond) failures.push(what);
}

async function shot(page, name) {
  const file = path.join(outdir, String(++shotN).padStart(2, '0') + '-' + name + '.png');
  await page.screenshot({ path: file, fullPage: true });
  shots.push({ page: name, url: page.url().replace(/\/s\/[A-Za-z0-9_-]+/, '/s/<token>'), file });
  console.log('screenshot: ' + file);
}

async function axe(page, name) {
  await page.evaluate(AXE);
  const r = await page.evaluate(() =>
    window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] },
    }));
  const v = r.violations.map((x) => ({ id: x.id, impact: x.impact, nodes: x.nodes.length,
    targets: x.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
  axeResults.push({ page: name, violations: v.length, passes: r.passes.length,
    incomplete: r.incomplete.length });
  check(v.length === 0, `axe ${name}: ${v.length} violations, ${r.passes.length} rules passed` +
    (v.length ? ' ' + JSON.stringify(v) : ''));
}

// Presses Tab until the focused element satisfies want (a description of it), at most n times.
async function tabTo(page, want, n = 80) {
  for (let i = 0; i < n; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const e = document.activeElement;
      return e ? { tag: e.tagName.toLowerCase(), id: e.id, text: (e.textContent || '').trim(),
        href: e.getAttribute('href') || '', type: e.getAttribute('type') || '' } : null;
    });
    if (f && want(f)) return i + 1;
  }
  throw new Error('Tab never reached the wanted element on ' + page.url());
}

const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-chromium-'));
const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
let ctx;
try {
  if (onePage) {
    // eventId is the page's name here, onePath its path.
    ctx = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', headless: true, args, locale: 'fi-FI',
      bypassCSP: true, viewport: { width: 1024, height: 768 },
    });
    const p = ctx.pages()[0] || await ctx.newPage();
    const resp = await p.goto(base + onePath);
    console.log(`status: ${resp.status()}`);
    await shot(p, eventId);
    await axe(p, eventId);
    await ctx.close();
    ctx = null;
    console.log(JSON.stringify({ failures: failures.length, screenshots: shots, axe: axeResults }));
    process.exit(failures.length ? 1 : 0);
  }
  // ---- 1. the keyboard-only flow, with JavaScript off in the page -------------------------
  ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args, locale: 'fi-FI',
    javaScriptEnabled: false, bypassCSP: true, viewport: { width: 1024, height: 768 },
  });
  const page = ctx.pages()[0] || await ctx.newPage();
  const seen = [];
  page.on('response', (r) => {
    const h = r.headers();
    seen.push({ status: r.status(), csp: h['content-security-policy'] || '' });
  });
  await page.goto(base + '/');
  await shot(page, 'calendar-fi');
  check((await page.title()).includes('Tapahtumakalenteri'), 'the calendar opens in Finnish');
  // The skip link is the first stop and jumps to the content.
  await page.keyboard.press('Tab');
  check(await page.evaluate(() => document.activeElement.classList.contains('skip')),
    'the first Tab reaches the skip link');
  let tabs = await tabTo(page, (f) => f.tag === 'a' && f.href === `/events/${eventId}`);
  await page.keyboard.press('Enter');
  await page.waitForURL(`**/events/${eventId}`);
  await shot(page, 'event');
  check(true, `event reached with ${tabs} Tabs and Enter`);
  tabs = await tabTo(page, (f) => f.tag === 'a' && f.href === `/events/${eventId}/signup`);
  await page.keyboard.press('Enter');
  await page.waitForURL(`**/events/${eventId}/signup`);
  await shot(page, 'signup-form');
  check(true, `sign-up form reached with ${tabs} Tabs and Enter`);

  // Send it once with the name missing: the error is summarised and shown beside the field.
  await tabTo(page, (f) => f.id === 'f-email');
  await page.keyboard.type('maija.meikalainen@example.fi');
  await tabTo(page, (f) => f.id === 'f-role');
  await page.keyboard.press('ArrowDown');
  await tabTo(page, (f) => f.tag === 'button' && f.type === 'submit');
  await page.keyboard.press('Enter');
  await page.waitForLoadState();
  await shot(page, 'signup-errors');
  const errText = await page.textContent('.error-summary');
  check(errText && errText.includes('Nimi'), 'the error summary names the name field');
  check(await page.getAttribute('#f-name', 'aria-invalid') === 'true',
    'the name field is marked invalid, with its message beside it');
  check(await page.inputValue('#f-email') === 'maija.meikalainen@example.fi',
    'the values sent stay filled in');
  // From the summary's link to the field, by keyboard.
  await page.keyboard.press('Tab'); // skip link
  await tabTo(page, (f) => f.tag === 'a' && f.href === '#f-name');
  await page.keyboard.press('Enter');
  // Following the summary's link moves focus to the field (or just before it).
  if (await page.evaluate(() => document.activeElement.id) !== 'f-name') {
    await tabTo(page, (f) => f.id === 'f-name', 5);
  }
  check(await page.evaluate(() => document.activeElement.id) === 'f-name',
    'the summary link leads the keyboard to the name field');
  await page.keyboard.type('Maija Meikäläinen');
  await tabTo(page, (f) => f.id === 'f-consent_reminders');
  await page.keyboard.press('Space');
  check(await page.isChecked('#f-consent_reminders'), 'Space ticks the reminders consent');
  await tabTo(page, (f) => f.id === 'f-accessibility_text');
  await page.keyboard.type('Induktiosilmukka');
  await tabTo(page, (f) => f.id === 'f-consent_needs');
  await page.keyboard.press('Space');
  await tabTo(page, (f) => f.tag === 'button' && f.type === 'submit');
  await page.keyboard.press('Enter');
  await page.waitForLoadState();
  await shot(page, 'confirmation');
  const h1 = await page.textContent('h1');
  check(h1.includes('Olet ilmoittautunut') || h1.includes('Olet jonossa'),
    'the confirmation says signed up: ' + h1.trim());
  tabs = await tabTo(page, (f) => f.tag === 'a' && f.href.includes('/s/'));
  await page.keyboard.press('Enter');
  await page.waitForURL('**/s/**');
  // The read model follows the log; reload (F5 by keyboard) until the state shows.
  for (let i = 0; i < 50; i++) {
    if ((await page.textContent('main')).includes('Paikkasi on vahvistettu')) break;
    await page.waitForTimeout(100);
    await page.reload();
  }
  await shot(page, 'personal');
  check((await page.textContent('main')).includes('Paikkasi on vahvistettu'),
    'the personal page shows the confirmed sign-up');
  await tabTo(page, (f) => f.tag === 'button' && f.text.includes('Peru'));
  await page.keyboard.press('Space');
  await page.waitForLoadState();
  await page.waitForSelector('.done');
  await shot(page, 'personal-cancelled');
  check((await page.textContent('main')).includes('peruttu'), 'Space on the button cancels');
  check(seen.every((s) => s.csp.includes("frame-ancestors 'none'")),
    `every response (${seen.length}) carried the CSP`);
  const personalUrl = page.url().replace(/\/cancel$/, '');
  await ctx.close();

  // ---- 2. axe on every page, with JavaScript on for axe only ------------------------------
  ctx = await chromium.launchPersistentContext(fs.mkdtempSync(path.join(os.tmpdir(), 'kp-ch-')), {
    executablePath: '/usr/bin/chromium', headless: true, args, locale: 'fi-FI', bypassCSP: true,
    viewport: { width: 1024, height: 768 },
  });
  const p2 = ctx.pages()[0] || await ctx.newPage();
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
    await axe(p2, name);
  }
  for (const lang of ['sv', 'en']) {
    await p2.goto(`${base}/?lang=${lang}`);
    await shot(p2, 'calendar-' + lang);
    await axe(p2, 'calendar-' + lang);
    await p2.goto(`${base}/events/${eventId}/signup`);
    await shot(p2, 'signup-form-' + lang);
    await axe(p2, 'signup-form-' + lang);
  }
  await p2.goto(base + '/?lang=fi');
  // Pages only reachable by a post: errors, confirmation, feedback.
  await p2.goto(`${base}/events/${eventId}/signup`);
  await p2.click('button[type=submit]');
  await p2.waitForLoadState();
  await axe(p2, 'signup-errors');
  await p2.fill('#f-name', 'Liisa Virtanen');
  await p2.fill('#f-email', 'liisa.virtanen@example.fi');
  await p2.selectOption('#f-role', '2');
  await p2.click('button[type=submit]');
  await p2.waitForLoadState();
  await axe(p2, 'confirmation');
  await p2.goto(base + '/accessibility');
  await shot(p2, 'accessibility');
  await p2.click('button[type=submit]');
  await p2.waitForLoadState();
  await shot(p2, 'accessibility-feedback-error');
  await axe(p2, 'accessibility-feedback-error');
  await p2.fill('#f-message', 'Kontrasti on hyvä.');
  await p2.click('button[type=submit]');
  await p2.waitForLoadState();
  await shot(p2, 'accessibility-feedback-thanks');
  await axe(p2, 'accessibility-feedback-thanks');
  await p2.goto(base + '/privacy');
  await shot(p2, 'privacy');
  await p2.goto(pages[6][1] ? base + pages[6][1] : base);
  await shot(p2, 'link-invalid');
  await p2.goto(base + '/no-such-page');
  await shot(p2, 'not-found');
  await ctx.close();
  ctx = null;
} catch (e) {
  failures.push(String(e && e.stack || e));
  console.log('FAIL: ' + (e && e.stack || e));
} finally {
  if (ctx) await ctx.close().catch(() => {});
}
console.log(JSON.stringify({ failures: failures.length, screenshots: shots, axe: axeResults }));
process.exit(failures.length ? 1 : 0);
