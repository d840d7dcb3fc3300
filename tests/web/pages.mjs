// Browser check of public pages given by their paths (the requester's page of an unfilled
// request, run by tests/integration/test_web_request_unfilled.py):
//
//   node tests/web/pages.mjs <base-url> <outdir> '<json>'
//
// json: {"pages": [{"name": a name, "path": "/r/<token>", "text": {"fi": "...", "sv": "...",
//        "en": "..."}}]}. In Debian's headless Chromium (playwright-core) each page in Finnish,
// Swedish and English: it answers 200 and shows its text; a full-page screenshot
// <outdir>/<name>-<lang>.png (numbered); axe-core (wcag2a, wcag2aa, wcag21a, wcag21aa; 0
// violations); no sideways scrolling at 320 CSS px (WCAG 1.4.10). Exit code 0 only if every
// check passed; the last line is a JSON summary.
import { Browser } from './lib.mjs';

const [base, outdir, json] = process.argv.slice(2);
if (!base || !outdir || !json) {
  console.error("usage: node pages.mjs <base-url> <outdir> '<json>'");
  process.exit(2);
}
const cfg = JSON.parse(json);
const b = new Browser({ base, outdir,
  mask: (u) => u.replace(/\/([sxr])\/[A-Za-z0-9_-]+/, '/$1/<token>') });

await b.run(async () => {
  const p = await b.person('fi-FI');
  for (const pg of cfg.pages) {
    for (const lang of ['fi', 'sv', 'en']) {
      const resp = await p.goto(`${base}${pg.path}?lang=${lang}`);
      b.check(resp.status() === 200, `${pg.name} (${lang}) answers 200`);
      const want = (pg.text || {})[lang];
      if (want)
        b.check((await b.text(p)).includes(want), `${pg.name} (${lang}) says "${want}"`);
      await b.shot(p, `${pg.name}-${lang}`);
      await b.axe(p, `${pg.name}-${lang}`);
      await b.reflow(p, `${pg.name}-${lang}`);
    }
  }
});
