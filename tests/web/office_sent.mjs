// Browser test of the back office's "What was sent" (issue 14, part 5), run by
// tests/integration/test_web_office_sent.py once the suite has sent messages, made dead letters
// and an opt-out:
//
//   node tests/web/office_sent.mjs <base-url> <outdir> '<json>'
//
// json: {"regional": [user, password], "expert": [...], "municipal": [...],
//        "address": an address messages went to, "event": an event id}
//
// In Debian's headless Chromium (playwright-core, a fresh profile per role): the regional
// coordinator opens the page from the navigation (dead letters, opt-outs), searches an address
// with the form (a POST: the address is not in the URL) and an event; the expert coordinator's
// page; the municipal contact person's refusal (403). Every page is checked by axe-core
// (wcag2a, wcag2aa, wcag21a, wcag21aa; 0 violations) and saved as <outdir>/office-4N-<page>.png.
// With "mode": "broker" ({"expert", "municipal", "request", "assignment", "first": 45}) it
// shows the broker's pages instead: a request with its ranking, completing an assignment, the
// statistics, the contact person's refusal. The last line is a JSON summary. Exit code 0 only if every check passed.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [base, outdir, json] = process.argv.slice(2);
if (!base || !outdir || !json) {
  console.error('usage: node office_sent.mjs <base-url> <outdir> <json>');
  process.exit(2);
}
const cfg = JSON.parse(json);
fs.mkdirSync(outdir, { recursive: true });

const failures = [];
const shots = [];
const axeResults = [];
let shotN = cfg.first || 40;

function check(cond, what) {
  console.log((cond ? 'ok: ' : 'FAIL: ') + what);
  if (!cond) failures.push(what);
}

async function both(page, name) {
  const file = path.join(outdir, `office-${++shotN}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push({ page: name, url: page.url().replace(base, ''), file });
  console.log('screenshot: ' + file);
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

const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const contexts = [];

async function person(locale) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: '/usr/bin/chromium', headless: true, args, locale, bypassCSP: true,
    viewport: { width: 1024, height: 768 },
  });
  contexts.push(ctx);
  return ctx.pages()[0] || await ctx.newPage();
}

async function signIn(page, who, lang = 'en') {
  await page.goto(`${base}/office/sign-in?lang=${lang}`);
  await page.fill('#f-user', who[0]);
  await page.fill('#f-password', who[1]);
  await page.click('form[action="/office/sign-in"] button[type=submit]');
  await page.waitForURL('**/office');
  check(page.url().endsWith('/office'), `${who[0]} signs in`);
}

async function broker() {
  // The expert coordinator: the queue, a request's offers and ranking, completing an assignment
  // with the keyboard-reachable form, the statistics; the contact person's refusal.
  const ex = await person('en-GB');
  await signIn(ex, cfg.expert);
  await ex.click('nav a[href="/office/broker"]');
  await ex.waitForURL('**/office/broker');
  // The request is filled (out of the open queue): by its address.
  await ex.goto(`${base}/office/broker/requests/${cfg.request}`);
  check((await ex.textContent('table[aria-labelledby=ranking]')).includes('already-assigned'),
    'the ranking is explained');
  await both(ex, 'expert-broker-request');
  await ex.goto(base + '/office/broker');
  await ex.fill(`#h-${cfg.assignment}`, '3');
  await ex.fill(`#f-${cfg.assignment}`, '99,50');
  await Promise.all([ex.waitForURL('**/office/broker?done=completed*'),
    ex.click(`form[action="/office/broker/assignments/${cfg.assignment}/complete"] button`)]);
  check((await ex.textContent('[role=status]')).includes('completed'),
    'the assignment is completed on the page');
  await both(ex, 'expert-broker-completed');
  await ex.click('a[href="/office/broker/stats"]');
  await ex.waitForURL('**/office/broker/stats');
  await both(ex, 'expert-broker-stats');
  const mu = await person('fi-FI');
  await signIn(mu, cfg.municipal, 'fi');
  const r = await mu.goto(`${base}/office/broker/requests/${cfg.request}`);
  check(r.status() === 403, 'the contact person is refused the request page (403)');
  await both(mu, 'municipal-broker-refused');
}

try {
  if (cfg.mode === 'broker') {
    await broker();
  } else {
  const reg = await person('en-GB');
  await signIn(reg, cfg.regional);
  await reg.click('nav a[href="/office/sent"]');
  await reg.waitForURL('**/office/sent');
  check((await reg.textContent('table[aria-labelledby=dead]')).includes('Retry'),
    'the dead letters have Retry buttons');
  check((await reg.textContent('table[aria-labelledby=optouts]')).includes('opt.out@example.fi'),
    'the opt-outs are listed');
  await both(reg, 'regional-sent');
  await reg.fill('#f-address', cfg.address);
  await Promise.all([reg.waitForLoadState(),
    reg.click('form[method=post][action="/office/sent"] button[type=submit]')]);
  check(reg.url().endsWith('/office/sent') && !reg.url().includes('@'),
    'the address search is a POST: the address is not in the URL');
  check((await reg.textContent('table[aria-labelledby=found]')).includes('sign-up confirmed'),
    'what went to the address: the confirmation');
  check(!(await reg.content()).includes(cfg.address), 'the page does not show the address');
  await both(reg, 'regional-sent-address');
  await reg.fill('#f-event', String(cfg.event));
  await Promise.all([reg.waitForURL('**/office/sent?event=*'),
    reg.click('form[method=get][action="/office/sent"] button[type=submit]')]);
  check((await reg.textContent('table[aria-labelledby=found]')).includes('reminder'),
    "the event's messages, reminders among them");
  await both(reg, 'regional-sent-event');

  const ex = await person('fi-FI');
  await signIn(ex, cfg.expert, 'fi');
  await ex.click('nav a[href="/office/sent"]');
  await ex.waitForURL('**/office/sent');
  check(!(await ex.content()).includes('opt.out@example.fi'),
    'the expert coordinator sees no opt-outs');
  await both(ex, 'expert-sent');

  const mu = await person('fi-FI');
  await signIn(mu, cfg.municipal, 'fi');
  check(await mu.locator('nav a[href="/office/sent"]').count() === 0,
    'the contact person has no "What was sent" in the navigation');
  const r = await mu.goto(base + '/office/sent');
  check(r.status() === 403, 'and the page is refused (403)');
  await both(mu, 'municipal-sent-refused');
  }
} catch (e) {
  check(false, 'the run: ' + (e && e.stack || e));
} finally {
  for (const c of contexts) await c.close().catch(() => {});
}
console.log(JSON.stringify({ failures, axe: axeResults, screenshots: shots }));
process.exit(failures.length ? 1 : 0);
