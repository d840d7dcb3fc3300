// What every browser test of the web shares: a fresh Chromium profile per person, numbered
// full-page screenshots, axe-core on the WCAG 2.1 A and AA rules, keyboard steps, filling a
// form, the back office's sign-in, and the JSON summary that the Python tests read (the last line:
// {"failures": N, "screenshots": [...], "axe": [...]}; exit code 0 only if every check passed).
//
//   import { Browser } from './lib.mjs';
//   const b = new Browser({ base, outdir, prefix: 'office-', first: 60 });
//   (an office script's arguments and Browser: const { base, cfg, b } = officeScript(...))
//   await b.run(async () => {
//     const page = await b.person('fi-FI');
//     await b.signIn(page, ['user', 'password']);
//     await b.both(page, 'home');          // office-61-home.png and axe
//     b.check(await b.status(page, '/office/x') === 403, 'refused');
//   });
import { chromium } from 'playwright-core';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const AXE = fs.readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
  '--disable-component-update', '--disable-sync', '--no-first-run'];
const WCAG = ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'];

export class Browser {
  // base: the web's address; outdir: where screenshots go; prefix: their file name's start;
  // first: the number before the first screenshot (default: how many with the prefix exist);
  // mask: rewrites a page's URL for the summary (personal links' tokens stay out of it).
  constructor({ base, outdir, prefix = '', first, mask = (u) => u }) {
    this.base = base;
    this.outdir = outdir;
    this.prefix = prefix;
    this.mask = mask;
    fs.mkdirSync(outdir, { recursive: true });
    this.n = first ?? fs.readdirSync(outdir)
      .filter((f) => f.startsWith(prefix) && f.endsWith('.png')).length;
    this.failures = [];
    this.shots = [];
    this.axeResults = [];
    this.contexts = [];
  }

  check(cond, what) {
    console.log((cond ? 'ok: ' : 'FAIL: ') + what);
    if (!cond) this.failures.push(what);
  }

  async shot(page, name) {
    const file = path.join(this.outdir,
      this.prefix + String(++this.n).padStart(2, '0') + '-' + name + '.png');
    await page.screenshot({ path: file, fullPage: true });
    this.shots.push({ page: name, url: this.mask(page.url().replace(this.base, '')), file });
    console.log('screenshot: ' + file);
  }

  async axe(page, name) {
    await page.evaluate(AXE);
    const r = await page.evaluate((values) =>
      window.axe.run(document, { runOnly: { type: 'tag', values } }), WCAG);
    const v = r.violations.map((x) => ({ id: x.id, impact: x.impact, nodes: x.nodes.length,
      targets: x.nodes.slice(0, 3).map((n) => n.target.join(' ')) }));
    this.axeResults.push({ page: name, violations: v.length, passes: r.passes.length,
      incomplete: r.incomplete.length });
    this.check(v.length === 0,
      `axe ${name}: ${v.length} violations, ${r.passes.length} rules passed` +
      (v.length ? ' ' + JSON.stringify(v) : ''));
  }

  // WCAG 1.4.10 (reflow): the page at 320 CSS px wide must not scroll sideways. Checks the
  // page as it is now at that width (then back to its own), naming the text that sticks out.
  async reflow(page, name) {
    const size = page.viewportSize();
    await page.setViewportSize({ width: 320, height: 640 });
    const o = await page.evaluate(() => {
      const w = document.documentElement.clientWidth;
      const out = [];
      const tw = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
      for (let n = tw.nextNode(); n; n = tw.nextNode()) {
        const rg = document.createRange();
        rg.selectNodeContents(n);
        if (rg.getBoundingClientRect().right > w + 1) out.push(n.textContent.trim().slice(0, 40));
      }
      return { sw: document.documentElement.scrollWidth, w, out: out.slice(0, 3) };
    });
    await page.setViewportSize(size);
    this.check(o.sw <= o.w, `reflow ${name}: ${o.sw} px wide at ${o.w} px` +
      (o.out.length ? ' ' + JSON.stringify(o.out) : ''));
  }

  // A screenshot and axe for the page as it is now.
  async both(page, name) {
    await this.shot(page, name);
    await this.axe(page, name);
  }

  // Sends the form whose action is action (a path) with its submit button and waits for the
  // answer's page.
  async submit(page, action) {
    await page.click(`form[action="${action}"] button[type=submit]`);
    await page.waitForLoadState();
  }

  // Fills a form's fields: each selector in fields gets its value (a <select> has the option of
  // that value chosen), in the order given.
  async fill(page, fields) {
    for (const [sel, value] of Object.entries(fields)) {
      if (await page.locator(sel).evaluate((e) => e.tagName === 'SELECT')) {
        await page.selectOption(sel, value);
      } else {
        await page.fill(sel, value);
      }
    }
  }

  // Checks that the field sel is marked invalid (aria-invalid="true").
  async invalid(page, sel, what) {
    this.check(await page.getAttribute(sel, 'aria-invalid') === 'true', what);
  }

  // Follows the office navigation's link to href (a path) and waits for its page.
  async navTo(page, href) {
    await page.click(`nav a[href="${href}"]`);
    await page.waitForURL('**' + href);
  }

  // A fresh browser profile (no cookies) for one person; js: false turns the page's
  // JavaScript off (the pages work without it).
  async person(locale, { width = 1024, height = 768, js = true } = {}) {
    const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'kp-chromium-'));
    const ctx = await chromium.launchPersistentContext(profile, {
      executablePath: '/usr/bin/chromium', headless: true, args: ARGS, locale,
      bypassCSP: true, viewport: { width, height }, javaScriptEnabled: js,
      acceptDownloads: true,
    });
    this.contexts.push(ctx);
    return ctx.pages()[0] || await ctx.newPage();
  }

  // The back office's sign-in form; waits for the front page.
  async signIn(page, who, lang = 'en') {
    await page.goto(`${this.base}/office/sign-in?lang=${lang}`);
    await page.fill('#f-user', who[0]);
    await page.fill('#f-password', who[1]);
    await page.click('form[action="/office/sign-in"] button[type=submit]');
    await page.waitForURL('**/office');
    this.check(page.url().endsWith('/office'), `${who[0]} signs in`);
  }

  // Presses Tab until the focused element satisfies want({tag, id, text, href, type}), at
  // most n times; answers the number of presses.
  async tabTo(page, want, n = 80) {
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

  // Keyboard only: Tabs to the element want picks (as tabTo), then presses key there (Enter
  // follows a link, Space ticks a box); answers the number of Tab presses.
  async pressOn(page, want, key) {
    const tabs = await this.tabTo(page, want);
    await page.keyboard.press(key);
    return tabs;
  }

  // Keyboard only: Tabs to the field whose id is id, then types text into it.
  async typeInto(page, id, text) {
    await this.tabTo(page, (f) => f.id === id);
    await page.keyboard.type(text);
  }

  // Keyboard only: Tabs to the form's submit button, presses Enter and waits for the answer's
  // page.
  async sendByKeys(page) {
    await this.pressOn(page, (f) => f.tag === 'button' && f.type === 'submit', 'Enter');
    await page.waitForLoadState();
  }

  // After an action's POST from the page at path: the answer was a 303 to path?done=<action>
  // (Post/Redirect/Get), so a reload asks that page again by GET (resending nothing) and it
  // still says text.
  async redirected(page, path, action, text, what) {
    const u = new URL(page.url());
    this.check(u.pathname === path && u.search === `?done=${action}`,
      `${what}: the answer led to the page with ?done=${action} ` +
      `(${this.mask(u.pathname + u.search)})`);
    const resp = await page.reload();
    this.check(resp !== null && resp.request().method() === 'GET' && resp.status() === 200 &&
      (await this.text(page)).includes(text),
    `${what}: a reload asks the page again by GET and it still says so`);
  }

  // The HTTP status of a GET of url (a path under base).
  async status(page, url) {
    const r = await page.goto(this.base + url);
    return r.status();
  }

  // Checks that a GET of url (a path under base) is refused (403), then takes the refusal
  // page's screenshot and axe as name.
  async refused(page, url, what, name) {
    this.check(await this.status(page, url) === 403, what);
    await this.both(page, name);
  }

  // The text of the page's main element.
  async text(page) {
    return (await page.textContent('main')) || '';
  }

  // Runs the steps, records an exception as a failure, closes every browser, prints the
  // summary and exits.
  async run(steps) {
    try {
      await steps();
    } catch (e) {
      this.failures.push(String(e && e.stack || e));
      console.log('FAIL: ' + (e && e.stack || e));
    } finally {
      for (const c of this.contexts) await c.close().catch(() => {});
    }
    console.log(JSON.stringify({ failures: this.failures.length, screenshots: this.shots,
      axe: this.axeResults }));
    process.exit(this.failures.length ? 1 : 0);
  }
}

// The start of an office script run as `node <script> <base-url> <outdir> <json>`: its
// config (the JSON) and a Browser whose screenshots office-NN-*.png are numbered on from
// cfg.first, else from first. Exits 2 with the usage when an argument is missing.
export function officeScript(script, first) {
  const [base, outdir, json] = process.argv.slice(2);
  if (!base || !outdir || !json) {
    console.error(`usage: node ${script} <base-url> <outdir> <json>`);
    process.exit(2);
  }
  const cfg = JSON.parse(json);
  return { base, cfg, b: new Browser({ base, outdir, prefix: 'office-', first: cfg.first ?? first }) };
}
