// Reflow of the back office (WCAG 2.1 SC 1.4.10), run by tests/integration/test_web_office_reflow.py
// once the suite holds an event with a waitlist, organisations, a contact person, an expert
// and a broker request:
//
//   node tests/web/office_reflow.mjs <base-url> <outdir> '<json>'
//
// json: {"regional": [user, password], "expert": [...], "pages": [paths], "expert_pages": [...]}
//
// A coordinator who zooms to 400 % sees a page 320 CSS pixels wide. In Debian's headless
// Chromium at 320 x 640 every page named is opened and checked: the page itself does not
// scroll sideways (its width is the window's), and a table wider than the page sits in a
// region of its own that scrolls sideways, can be reached with the keyboard (tabindex 0) and
// has a name (role region, aria-labelledby). axe-core (WCAG 2.1 A and AA) on each, and a
// screenshot <outdir>/reflow-NN-<page>.png.
import { Browser } from './lib.mjs';

const [base, outdir, json] = process.argv.slice(2);
const cfg = JSON.parse(json);
const b = new Browser({ base, outdir, prefix: 'reflow-', first: 0 });

// What at 320 pixels makes the page wider than the window, and the tables that are wider than
// their place without a named, focusable region scrolling them.
async function overflow(page) {
  return page.evaluate(() => {
    const W = document.documentElement.clientWidth;
    const bad = [];
    for (const t of document.querySelectorAll('main table')) {
      if (t.scrollWidth <= t.parentElement.clientWidth) continue;
      const r = t.closest('.wide');
      const named = r && r.getAttribute('role') === 'region' && r.getAttribute('tabindex') === '0' &&
        (r.getAttribute('aria-labelledby') || '').split(' ').every((id) => document.getElementById(id));
      if (!named) bad.push('table without a named scrolling region: ' +
        (t.querySelector('caption') || t).textContent.trim().slice(0, 40));
    }
    return { page: document.documentElement.scrollWidth, window: W, bad };
  });
}

await b.run(async () => {
  for (const [who, pages] of [[cfg.regional, cfg.pages], [cfg.expert, cfg.expert_pages]]) {
    const page = await b.person('fi-FI', { width: 320, height: 640 });
    await b.signIn(page, who, 'fi');
    for (const p of pages) {
      const r = await page.goto(base + p);
      const o = await overflow(page);
      b.check(r.status() === 200 && o.page <= o.window && o.bad.length === 0,
        `${p} at 320 px: ${r.status()}, page ${o.page} px wide in a ${o.window} px window` +
        (o.bad.length ? '; ' + o.bad.join('; ') : ''));
      await b.both(page, p.replace(/^\/office\/?/, '').replace(/[/?=&]+/g, '-') || 'home');
    }
  }
});
