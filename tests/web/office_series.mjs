// Browser test of the back office's series and waitlist (issue 14, item 2), run by
// tests/integration/test_web_office_series.py once the suite has a series and an event with a
// waitlist (it works with offers):
//
//   node tests/web/office_series.mjs <base-url> <outdir> '<json>'
//
// json: {"municipal": [user, password], "other": [user, password] (another municipality),
//        "occurrence": an occurrence of a series of the contact person's municipality,
//        "waitlist_event": an event of theirs with two people waiting, "waiting": their ids,
//        "first_day": "YYYY-MM-DD" for a new series}
//
// In Debian's headless Chromium (playwright-core, a fresh profile per person, ./lib.mjs): the
// contact person makes a series on the new-event form (first a refused repeat count, then
// every two weeks, three times, published at once), changes it from its second occurrence on, extends it; on the
// waitlist event a promotion that does not fit is refused (409), one beyond the capacity is
// made with the keyboard and becomes an offer, whose deadline is then extended; the other
// municipality's contact person is refused the occurrence (403). Every state is checked by
// axe-core (0 violations) and saved as <outdir>/office-6N-<name>.png. The last line is a JSON
// summary; exit code 0 only if every check passed.
import { officeScript } from './lib.mjs';

const { base, cfg, b } = officeScript('office_series.mjs', 60);

async function submit(page, form, url) {
  await Promise.all([page.waitForURL(url), page.click(`${form} button[type=submit]`)]);
}

await b.run(async () => {
  const mu = await b.person('en-GB');
  await b.signIn(mu, cfg.municipal);

  // ---- a series from the new-event form ----
  await mu.goto(base + '/office/events/new');
  await b.fill(mu, { '#f-title': 'Lähiöiden kumppanuuspöytä', '#f-date': cfg.first_day,
    '#f-start': '17:00', '#f-end': '18:30', '#f-capacity': '15', '#f-repeat': 'biweekly',
    '#f-repeat_count': '1' });
  await b.axe(mu, 'series-new-form'); // the same form is shot below with its error
  await mu.click('form[action="/office/events"] button[type=submit]');
  await mu.waitForSelector('.error-summary');
  await b.invalid(mu, '#f-repeat_count', 'a repeat count of 1 is refused beside its field');
  await b.both(mu, 'series-new-refused');
  await mu.fill('#f-repeat_count', '3');
  await mu.check('#f-repeat_publish');
  await submit(mu, 'form[action="/office/events"]', '**/office/events/*?done=series_published*');
  const rows = await mu.$$('table[aria-labelledby=series-occ] tbody tr');
  b.check(rows.length === 3, `the new series has 3 occurrences on its page (${rows.length})`);
  const states = await mu.$$eval('table[aria-labelledby=series-occ] tbody tr td:nth-child(4)',
    (tds) => tds.map((t) => t.textContent));
  b.check(states.every((x) => x === 'published'), `all three are published (${states})`);
  b.check((await mu.textContent('[role=status]')).includes('series'), 'the page says so');
  await b.both(mu, 'series-created');

  // ---- change from the second occurrence on, then extend ----
  await mu.click('table[aria-labelledby=series-occ] tbody tr:nth-child(2) a');
  await mu.waitForSelector('#f-series_title');
  await mu.fill('#f-series_title', 'Lähiöiden kumppanuuspöytä (kirjasto)');
  await mu.fill('#f-series_place', 'Seinäjoen kirjasto');
  await submit(mu, 'form[action$="/series/change"]', '**?done=series_changed*');
  const titles = await mu.$$eval('table[aria-labelledby=series-occ] tbody tr td:nth-child(3)',
    (tds) => tds.map((t) => t.textContent));
  b.check(titles.length === 3 && !titles[0].includes('kirjasto') &&
    titles[1].includes('kirjasto') && titles[2].includes('kirjasto'),
    'the second and third occurrences have the new title, the first not');
  await b.both(mu, 'series-changed');
  await mu.fill('#f-count', '2');
  await mu.check('#x-publish');
  await submit(mu, 'form[action$="/series/extend"]', '**?done=series_extended*');
  const n = (await mu.$$('table[aria-labelledby=series-occ] tbody tr')).length;
  b.check(n === 5, `the series has 5 occurrences after the extension (${n})`);
  await b.both(mu, 'series-extended');

  // ---- the waitlist: a refused promotion, one beyond the capacity, an extended offer ----
  const [w1, w2] = cfg.waiting;
  await mu.goto(`${base}/office/events/${cfg.waitlist_event}`);
  const order = await mu.$$eval('table[aria-labelledby=wl-waiting] tbody tr td:first-child',
    (tds) => tds.map((t) => t.textContent));
  b.check(order.join(',') === '1,2', `the waitlist is numbered in order (${order})`);
  await b.both(mu, 'waitlist');
  const resp = await Promise.all([mu.waitForNavigation(), mu.click(`#promote-${w2}`)]);
  b.check(resp[0].status() === 409, `a promotion that does not fit is refused (${resp[0].status()})`);
  await b.both(mu, 'waitlist-refused');
  await mu.goto(`${base}/office/events/${cfg.waitlist_event}`);
  await b.tabTo(mu, (f) => f.id === `beyond-${w1}`);
  await Promise.all([mu.waitForURL('**?done=offered*'), mu.keyboard.press('Enter')]);
  const offers = await mu.textContent('table[aria-labelledby=wl-offers]');
  b.check(offers.length > 0, 'the promoted person holds an open offer, with its deadline');
  const before = await mu.textContent(`table[aria-labelledby=wl-offers] tbody tr td:nth-child(5)`);
  await b.both(mu, 'waitlist-offered');
  await mu.selectOption(`#f-minutes-${w1}`, '2880');
  await Promise.all([mu.waitForURL('**?done=offer_extended*'), mu.click(`#extend-${w1}`)]);
  const after = await mu.textContent(`table[aria-labelledby=wl-offers] tbody tr td:nth-child(5)`);
  b.check(after !== before, `the deadline moved (${before} -> ${after})`);
  await b.both(mu, 'waitlist-offer-extended');

  // ---- another municipality ----
  const other = await b.person('sv-FI');
  await b.signIn(other, cfg.other, 'sv');
  await b.refused(other, `/office/events/${cfg.occurrence}`,
    'the other municipality\'s contact person is refused the occurrence (403)', 'series-refused');
});
