// Browser test of the personal-link pages (issue 13), run by tests/integration/test_web_browser.py:
//
//   node tests/web/links.mjs <base-url> <outdir> <offer-path> <expert-offer-path> <request-path>
//                            <gone-path>
//
// <offer-path> is a waitlisted person's /s/<token> with an open offer, <expert-offer-path> an
// expert's /x/<token> with an open offer, <request-path> the requester's /r/<token> of that
// expert's request, <gone-path> a /s/ link whose sign-up does not exist. In Debian's headless
// Chromium (playwright-core):
//  1. axe-core (wcag2a, wcag2aa, wcag21a, wcag21aa; 0 violations) on each page before the
//     answers, in Finnish, Swedish and English, and on the gone page;
//  2. with JavaScript off and the keyboard alone (Tab, Enter, Space): the waitlist offer
//     accepted, the expert's offer accepted, then the requester's page shows the expert
//     confirmed;
//  3. axe on every page after the answers; a full-page screenshot of every page in <outdir>.
// Exit code 0 only if every check passed; the last line is a JSON summary.
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const [base, outdir, offerPath, xofferPath, requestPath, gonePath] = process.argv.slice(2);
if (!gonePath) {
  console.error('usage: node links.mjs <base-url> <outdir> <offer> <expert-offer> <request> <gone>');
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
  shots.push({ page: name, url: page.url().replace(/\/([sxr])\/[A-Za-z0-9_-]+/, '/$1/<token>'),
    file });
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

async function tabTo(page, want, n = 60) {
  for (let i = 0; i < n; i++) {
    await page.keyboard.press('Tab');
    const f = await page.evaluate(() => {
      const e = document.activeElement;
      return e ? { tag: e.tagName.toLowerCase(), text: (e.textContent || '').trim() } : null;
    });
    if (f && want(f)) return i + 1;
  }
  throw new Error('Tab never reached the wanted element on ' + page.url());
}

async function text(page) {
  return (await page.textContent('main')) || '';
}

const args = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const launch = (js) => chromium.launchPersistentContext(
  fs.mkdtempSync(path.join(os.tmpdir(), 'kp-links-')), {
    executablePath: '/usr/bin/chromium', headless: true, args, locale: 'fi-FI',
    javaScriptEnabled: js, bypassCSP: true, viewport: { width: 1024, height: 768 },
  });
let ctx;
try {
  // ---- 1. axe before the answers, in three languages --------------------------------------
  ctx = await launch(true);
  let p = ctx.pages()[0] || await ctx.newPage();
  for (const lang of ['sv', 'en', 'fi']) {
    for (const [name, u] of [['offer', offerPath], ['expert-offer', xofferPath],
      ['request-offered', requestPath]]) {
      const resp = await p.goto(`${base}${u}?lang=${lang}`);
      check(resp.status() === 200, `${name} (${lang}) answers 200`);
      await shot(p, `${name}-${lang}`);
      await axe(p, `${name}-${lang}`);
    }
  }
  const gone = await p.goto(base + gonePath);
  check(gone.status() === 410, 'the link of a sign-up that is gone answers 410');
  await shot(p, 'link-gone');
  await axe(p, 'link-gone');
  await ctx.close();

  // ---- 2. the answers with the keyboard alone, JavaScript off -----------------------------
  ctx = await launch(false);
  p = ctx.pages()[0] || await ctx.newPage();
  await p.goto(base + offerPath);
  check((await text(p)).includes('Ota se vastaan tai kieltäydy viimeistään'),
    'the offer page shows the deadline to answer by');
  let tabs = await tabTo(p, (f) => f.tag === 'button' && f.text.includes('Otan paikan vastaan'));
  await p.keyboard.press('Enter');
  await p.waitForLoadState();
  await p.waitForSelector('.done');
  await shot(p, 'offer-accepted');
  check((await text(p)).includes('Otit paikan vastaan'),
    `the waitlist offer accepted by keyboard (${tabs} Tabs and Enter)`);

  await p.goto(base + xofferPath);
  tabs = await tabTo(p, (f) => f.tag === 'button' && f.text.includes('Otan tehtävän vastaan'));
  await p.keyboard.press('Space');
  await p.waitForLoadState();
  await p.waitForSelector('.done');
  await shot(p, 'expert-offer-accepted');
  check((await text(p)).includes('vahvistettu'),
    `the expert's offer accepted by keyboard (${tabs} Tabs and Space)`);

  await p.goto(base + requestPath);
  await shot(p, 'request-confirmed');
  check((await text(p)).includes('Asiantuntijat on vahvistettu'),
    "the requester's page then shows the expert confirmed");
  await ctx.close();

  // ---- 3. axe after the answers -----------------------------------------------------------
  ctx = await launch(true);
  p = ctx.pages()[0] || await ctx.newPage();
  for (const [name, u] of [['offer-accepted', offerPath], ['expert-offer-accepted', xofferPath],
    ['request-confirmed', requestPath]]) {
    await p.goto(base + u);
    await axe(p, name);
  }
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
