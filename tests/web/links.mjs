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
//     each answer led to its page with ?done=accept (Post/Redirect/Get), which a reload asks
//     again by GET;
//  3. axe on every page after the answers, and on the pages that say what was done in three
//     languages; a full-page screenshot of every page in <outdir>;
//  4. no page scrolls sideways at 320 CSS px (WCAG 1.4.10), before the answers.
// Exit code 0 only if every check passed; the last line is a JSON summary.
import { chromium } from 'playwright-core';
import { Browser } from './lib.mjs';

const [base, outdir, offerPath, xofferPath, requestPath, gonePath] = process.argv.slice(2);
if (!gonePath) {
  console.error('usage: node links.mjs <base-url> <outdir> <offer> <expert-offer> <request> <gone>');
  process.exit(2);
}
const b = new Browser({ base, outdir,
  mask: (u) => u.replace(/\/([sxr])\/[A-Za-z0-9_-]+/, '/$1/<token>') });

await b.run(async () => {
  // ---- 1. axe before the answers, in three languages --------------------------------------
  let p = await b.person('fi-FI');
  for (const lang of ['sv', 'en', 'fi']) {
    for (const [name, u] of [['offer', offerPath], ['expert-offer', xofferPath],
      ['request-offered', requestPath]]) {
      const resp = await p.goto(`${base}${u}?lang=${lang}`);
      b.check(resp.status() === 200, `${name} (${lang}) answers 200`);
      await b.shot(p, `${name}-${lang}`);
      await b.axe(p, `${name}-${lang}`);
      await b.reflow(p, `${name}-${lang}`);
    }
  }
  const gone = await p.goto(base + gonePath);
  b.check(gone.status() === 410, 'the link of a sign-up that is gone answers 410');
  await b.shot(p, 'link-gone');
  await b.axe(p, 'link-gone');
  await p.context().close();

  // ---- 2. the answers with the keyboard alone, JavaScript off -----------------------------
  p = await b.person('fi-FI', { js: false });
  await p.goto(base + offerPath);
  b.check((await b.text(p)).includes('Ota se vastaan tai kieltäydy viimeistään'),
    'the offer page shows the deadline to answer by');
  let tabs = await b.tabTo(p, (f) => f.tag === 'button' && f.text.includes('Otan paikan vastaan'));
  await p.keyboard.press('Enter');
  await p.waitForLoadState();
  await p.waitForSelector('.done');
  await b.shot(p, 'offer-accepted');
  b.check((await b.text(p)).includes('Otit paikan vastaan'),
    `the waitlist offer accepted by keyboard (${tabs} Tabs and Enter)`);
  await b.redirected(p, offerPath, 'accept', 'Otit paikan vastaan', "the waitlist offer's accept");

  await p.goto(base + xofferPath);
  tabs = await b.tabTo(p, (f) => f.tag === 'button' && f.text.includes('Otan tehtävän vastaan'));
  await p.keyboard.press('Space');
  await p.waitForLoadState();
  await p.waitForSelector('.done');
  await b.shot(p, 'expert-offer-accepted');
  b.check((await b.text(p)).includes('otit tehtävän vastaan'),
    `the expert's offer accepted by keyboard (${tabs} Tabs and Space)`);
  await b.redirected(p, xofferPath, 'accept', 'otit tehtävän vastaan', "the expert's accept");

  await p.goto(base + requestPath);
  await b.shot(p, 'request-confirmed');
  b.check((await b.text(p)).includes('Asiantuntijat on vahvistettu'),
    "the requester's page then shows the expert confirmed");
  await p.context().close();

  // ---- 3. axe after the answers, and their pages (?done=accept) in three languages --------
  p = await b.person('fi-FI');
  for (const [name, u] of [['offer-accepted', offerPath], ['expert-offer-accepted', xofferPath],
    ['request-confirmed', requestPath]]) {
    await p.goto(base + u);
    await b.axe(p, name);
  }
  for (const lang of ['sv', 'en', 'fi']) {
    for (const [name, u] of [['offer-accepted', offerPath],
      ['expert-offer-accepted', xofferPath]]) {
      await p.goto(`${base}${u}?done=accept&lang=${lang}`);
      b.check(await p.isVisible('.done[role=status]'),
        `${name} (${lang}): the page after the accept says what was done`);
      await b.shot(p, `${name}-done-${lang}`);
      await b.axe(p, `${name}-done-${lang}`);
      await b.reflow(p, `${name}-done-${lang}`);
    }
  }
});
