// Browser test of the back office's refused fields (WCAG 2.1 3.3.1 and 4.1.2), run by
// tests/integration/test_web_office_invalid.py:
//
//   node tests/web/office_invalid.mjs <base-url> <outdir> '<json>'
//
// json: {"regional": [user, password], "municipal": [user, password], "target": account id,
//        "event": an event of the regional account's (published, in the future, a sign-up),
//        "series": an event of a weekly series of theirs, "held": an event of theirs that has
//        started (a sign-up), "offer_event": an event with "offer": a sign-up holding an open
//        offer, "assignment": the broker's confirmed assignment, not yet completed}
//
// In Debian's headless Chromium (playwright-core, a fresh profile per person), each form is sent
// with one field the server refuses: a <select> gets a value it does not offer (an option added
// through the page), a text field a value out of its rule. On the page that answers, the field
// must carry aria-invalid="true" and an aria-describedby naming an element that holds the
// error's text (the summary's), the summary's link must move the focus to it, and axe-core
// (wcag2a, wcag2aa, wcag21a, wcag21aa) must find 0 violations; each page is saved as
// <outdir>/office-1NN-<page>.png (100..130). The event page's reschedule and cancel forms, refused,
// must answer that page again (not the error page) with the values sent; so must an offer's
// extension, the coverage's months, the statistics' filter, the organisation search, and the
// broker's completion of an assignment and marking paid, the payment export's and the broker
// statistics' period, and the check-in page's bulk mark with no
// one ticked (their page, 400). The check-in page of an event not yet started shows no marking
// controls (office-132-checkin-not-started.png).
import { officeScript } from './lib.mjs';

const { base, cfg, b } = officeScript('office_invalid.mjs', 99);

// Gives the <select> sel a value it does not offer: an option of that value is added first.
async function offMenu(page, sel, value) {
  await page.locator(sel).evaluate((e, v) => {
    e.add(new Option(v, v));
    e.value = v;
  }, value);
}

// Sends the form whose action is action (a path); the answer's HTTP status.
async function sentStatus(page, action) {
  const answer = page.waitForResponse((r) => r.request().isNavigationRequest() &&
    r.request().frame() === page.mainFrame());
  await b.submit(page, action);
  return (await answer).status();
}

// The answer refused the field sel (#f-x): it is marked invalid, described by its error's text,
// reached from the summary's link; then the page's screenshot and axe as name.
async function refused(page, sel, name) {
  const summary = page.locator(`.error-summary a[href="${sel}"]`);
  b.check(await summary.count() === 1, `${name}: the error summary links to ${sel}`);
  const text = (await summary.first().textContent() || '').trim();
  await b.invalid(page, sel, `${name}: ${sel} is marked aria-invalid="true"`);
  const described = await page.locator(sel).evaluate((e) =>
    (e.getAttribute('aria-describedby') || '').split(/\s+/).filter(Boolean)
      .map((id) => (document.getElementById(id) || {}).textContent || ''));
  b.check(text !== '' && described.some((t) => t.includes(text)),
    `${name}: ${sel}'s aria-describedby names its error "${text}" (${JSON.stringify(described)})`);
  b.check(await page.locator(sel).evaluate((e) =>
    (e.closest('.field, .check') || e).classList.contains('invalid')),
  `${name}: ${sel}'s field has the invalid class`);
  const colours = [await page.locator(sel).evaluate((e) => e.type === 'checkbox'
    ? getComputedStyle(e).outlineColor : getComputedStyle(e).borderTopColor),
  await summary.first().evaluate((e) => getComputedStyle(e).color)];
  b.check(colours[0] === colours[1],
    `${name}: ${sel} is outlined in the errors' colour (${colours.join(' / ')})`);
  await summary.first().click();
  b.check(await page.evaluate(() => document.activeElement && document.activeElement.id) ===
    sel.slice(1), `${name}: the summary's link moves the focus to ${sel}`);
  await b.both(page, name);
}

// The new-event form filled in right (a municipal account's municipality is its select's).
async function newEvent(page) {
  await page.goto(`${base}/office/events/new?lang=en`);
  const day = new Date(Date.now() + 7 * 86400 * 1000).toISOString().slice(0, 10);
  await b.fill(page, { '#f-title': 'Kumppanuuspöytä', '#f-date': day, '#f-start': '17:00',
    '#f-end': '19:00' });
  if (await page.locator('#f-municipality').evaluate((e) => e.tagName !== 'SELECT')) {
    await page.fill('#f-municipality', '743');
  }
}

// The new-event form filled in right but for the <select> sel, given value; then refused.
async function newEventOff(page, sel, value, name) {
  await newEvent(page);
  await offMenu(page, sel, value);
  await b.submit(page, '/office/events');
  await refused(page, sel, name);
}

await b.run(async () => {
  const reg = await b.person('en-GB');
  await b.signIn(reg, cfg.regional, 'en');

  // ---- the new event: each select, and the repeat's count ---------------------------------
  await newEventOff(reg, '#f-kind', '0', 'new-event-kind');
  b.check(await reg.locator('#f-kind').inputValue() === '',
    'new-event-kind: the refused kind shows the empty "Choose…" option, not the first kind');
  await newEvent(reg);
  b.check(await reg.locator('#f-kind option').first().getAttribute('value') === '',
    'new-event-kind: the kind\'s first option is the empty "Choose…"');
  await reg.selectOption('#f-kind', '');
  await b.submit(reg, '/office/events');
  await refused(reg, '#f-kind', 'new-event-kind-empty');
  b.check(await reg.locator('#f-kind').inputValue() === '',
    'new-event-kind-empty: still on "Choose…"');
  await newEventOff(reg, '#f-language', 'xx', 'new-event-language');
  await newEventOff(reg, '#f-repeat', 'daily', 'new-event-repeat');

  await newEvent(reg);
  await b.fill(reg, { '#f-repeat': 'weekly', '#f-repeat_count': '1' });
  await b.submit(reg, '/office/events');
  await refused(reg, '#f-repeat_count', 'new-event-repeat-count');

  // ---- an event's reschedule (the end before the start) and cancel (too long a reason) --------
  const ev = `/office/events/${cfg.event}`;
  const h1 = async (page) => (await page.locator('h1').textContent() || '').trim();
  await reg.goto(`${base}${ev}?lang=en`);
  const title = await h1(reg);
  const day = await reg.locator('#f-date').inputValue();
  await b.fill(reg, { '#f-start': '17:00', '#f-end': '16:00', '#f-new_reason': 'Sali varattu' });
  await b.submit(reg, `${ev}/reschedule`);
  b.check(await h1(reg) === title && await reg.locator(`form[action="${ev}/cancel"]`).count() === 1,
    `event-reschedule: the event's page again ("${await h1(reg)}"), not the error page`);
  b.check(await reg.locator('#f-date').inputValue() === day &&
    await reg.locator('#f-start').inputValue() === '17:00' &&
    await reg.locator('#f-end').inputValue() === '16:00' &&
    await reg.locator('#f-new_reason').inputValue() === 'Sali varattu',
  'event-reschedule: the values sent are kept');
  await refused(reg, '#f-end', 'event-reschedule-end');
  const long = 'Peruttu '.repeat(130);
  await reg.fill('#f-reason', long);
  await b.submit(reg, `${ev}/cancel`);
  b.check(await h1(reg) === title && await reg.locator('#f-reason').inputValue() === long,
    'event-cancel: the event\'s page again, the reason sent kept');
  b.check(await reg.locator('#f-end').inputValue() !== '16:00',
    'event-cancel: the reschedule form has the event\'s own time again');
  await refused(reg, '#f-reason', 'event-cancel-reason');

  // ---- a series' extension: its count ----------------------------------------------------
  const sp = `/office/events/${cfg.series}`;
  await reg.goto(`${base}${sp}?lang=en`);
  await reg.fill('#f-count', '61');
  await b.submit(reg, `${sp}/series/extend`);
  b.check(await reg.locator('#series-extend').count() === 1 &&
    await reg.locator('#f-count').inputValue() === '61',
  'series-extend: the event\'s page again, the count sent kept');
  await refused(reg, '#f-count', 'series-extend-count');

  // ---- the events list's municipality filter ------------------------------------------------
  await reg.goto(`${base}/office/events?lang=en`);
  await offMenu(reg, '#f-municipality', 'abc');
  await b.submit(reg, '/office/events');
  b.check(await reg.locator('table caption#events-caption').count() === 1 &&
    await reg.locator('#f-municipality').inputValue() === '',
  'events-filter: the events page again, its list unfiltered ("all" chosen)');
  await refused(reg, '#f-municipality', 'events-filter-municipality');

  // ---- a new account: its role, its password ----------------------------------------------
  await reg.goto(`${base}/office/accounts?lang=en`);
  await b.fill(reg, { '#f-user': 'uusi.tunnus', '#f-password': 'Uuden-tunnuksen-salasana-1' });
  await offMenu(reg, '#f-role', '9');
  await b.submit(reg, '/office/accounts');
  await refused(reg, '#f-role', 'accounts-role');
  await b.fill(reg, { '#f-user': 'uusi.tunnus', '#f-role': '3', '#f-password': 'lyhyt' });
  await b.submit(reg, '/office/accounts');
  await refused(reg, '#f-password', 'accounts-password');

  // ---- an account's page: the role (field_scope), the removal's box -----------------------
  const acc = `/office/accounts/${cfg.target}`;
  await reg.goto(`${base}${acc}?lang=en`);
  await offMenu(reg, '#f-role', '7');
  await b.submit(reg, `${acc}/scope`);
  await refused(reg, '#f-role', 'account-role');
  await b.submit(reg, `${acc}/remove`);
  await refused(reg, '#f-confirm', 'account-remove-unconfirmed');

  // ---- the own password, the people search ------------------------------------------------
  await reg.goto(`${base}/office/password?lang=en`);
  await b.fill(reg, { '#f-current': 'ei-oikea-salasana-1', '#f-password': 'Uusi-salasana-42-x',
    '#f-password2': 'Uusi-salasana-42-x' });
  await b.submit(reg, '/office/password');
  await refused(reg, '#f-current', 'password-current');
  await reg.goto(`${base}/office/people?lang=en`);
  await b.submit(reg, '/office/people');
  await refused(reg, '#f-name', 'people-name');

  // ---- a municipal contact person's municipality: a select of their own -------------------
  const mu = await b.person('fi-FI');
  await b.signIn(mu, cfg.municipal, 'fi');
  await newEventOff(mu, '#f-municipality', 'abc', 'new-event-municipality');

  // ---- an account's scope refused: the role and municipalities sent, not the saved ones ----
  await reg.goto(`${base}${acc}?lang=en`);
  await b.fill(reg, { '#f-role': '3', '#f-municipalities': '74' });
  await b.submit(reg, `${acc}/scope`);
  b.check(await reg.locator('#f-role').inputValue() === '3' &&
    await reg.locator('#f-municipalities').inputValue() === '74',
  'account-scope: the role and municipalities sent are kept');
  await refused(reg, '#f-municipalities', 'account-scope-municipalities');

  // ---- a started event's "held" form: a memo link that is not a web address -----------------
  const hp = `/office/events/${cfg.held}`;
  await reg.goto(`${base}${hp}?lang=en`);
  const held = await h1(reg);
  await b.fill(reg, { '#f-memo_url': 'muistio.example.fi',
    '#f-materials_url': 'https://aineisto.example.fi/a' });
  await b.submit(reg, `${hp}/held`);
  b.check(await h1(reg) === held &&
    await reg.locator('#f-memo_url').inputValue() === 'muistio.example.fi' &&
    await reg.locator('#f-materials_url').inputValue() === 'https://aineisto.example.fi/a',
  'event-held: the event\'s page again, the links sent kept');
  await refused(reg, '#f-memo_url', 'event-held-memo');

  // ---- a series' change: its capacity not a number --------------------------------------------
  await reg.goto(`${base}${sp}?lang=en`);
  await b.fill(reg, { '#f-series_place': 'Kirjasto', '#f-series_capacity': 'paljon',
    '#f-series_reason': 'Tilat' });
  await b.submit(reg, `${sp}/series/change`);
  b.check(await reg.locator('#series-change').count() === 1 &&
    await reg.locator('#f-series_place').inputValue() === 'Kirjasto' &&
    await reg.locator('#f-series_capacity').inputValue() === 'paljon' &&
    await reg.locator('#f-series_reason').inputValue() === 'Tilat',
  'series-change: the event\'s page again, the values sent kept');
  await refused(reg, '#f-series_capacity', 'series-change-capacity');

  // ---- the CSV import: a kind it does not offer -----------------------------------------------
  await reg.goto(`${base}/office/import?lang=en`);
  await reg.fill('#f-csv', 'nimi;kunta\nKyläyhdistys;743');
  await offMenu(reg, '#f-kind', '3');
  await reg.click('button[name="action"][value="check"]');
  await reg.waitForLoadState();
  b.check(await reg.locator('#f-csv').inputValue() === 'nimi;kunta\nKyläyhdistys;743',
    'import-kind: the import page again, the rows sent kept');
  await refused(reg, '#f-kind', 'import-kind');

  // ---- an open offer's extension: a time it does not offer, beside the offer's row -----------
  const op = `/office/events/${cfg.offer_event}`;
  const minutes = `#f-minutes-${cfg.offer}`;
  await reg.goto(`${base}${op}?lang=en`);
  const offerTitle = await h1(reg);
  await offMenu(reg, minutes, '7');
  b.check(await sentStatus(reg, `${op}/extend-offer`) === 400 && await h1(reg) === offerTitle &&
    await reg.locator(`${minutes}`).count() === 1,
  'offer-extend: 400, the event\'s page again with the offer\'s row');
  await refused(reg, minutes, 'offer-extend-minutes');

  // ---- the coverage's months, the statistics' filter, the organisation search: their page
  // again, 400
  // (a code typed is kept; a choice off the menu shows the menu's first, "all" or "dates")
  const filters = [
    { page: reg, path: '/office/coverage', sel: '#f-months', typed: '61', name: 'coverage-months' },
    { page: reg, path: '/office/stats', sel: '#f-municipality', typed: 'abc',
      name: 'stats-municipality' },
    { page: reg, path: '/office/stats', sel: '#f-period', off: '2026-winter', name: 'stats-period' },
    { page: mu, path: '/office/stats', sel: '#f-kind', off: '0', name: 'stats-kind' },
    { page: reg, path: '/office/organisations', sel: '#f-q', typed: 'sana '.repeat(41),
      name: 'orgs-words' },
  ];
  for (const f of filters) {
    await f.page.goto(`${base}${f.path}?lang=en`);
    if (f.typed) {
      await f.page.fill(f.sel, f.typed);
    } else {
      await offMenu(f.page, f.sel, f.off);
    }
    b.check(await sentStatus(f.page, f.path) === 400 &&
      await f.page.locator(`form[action="${f.path}"] ${f.sel}`).count() === 1 &&
      await f.page.locator(f.sel).inputValue() === (f.typed || ''),
    `${f.name}: 400, the page's filter again, ${f.sel} showing "${f.typed || ''}"`);
    await refused(f.page, f.sel, f.name);
  }

  // ---- the broker: an assignment's completion with a fee that is no sum, marking paid with
  // nothing chosen: the broker's page again, 400, the values typed kept
  const cp = `/office/broker/assignments/${cfg.assignment}/complete`;
  await reg.goto(`${base}/office/broker?lang=en`);
  await b.fill(reg, { [`#f-hours-${cfg.assignment}`]: '2,5',
    [`#f-fee-${cfg.assignment}`]: 'sata' });
  b.check(await sentStatus(reg, cp) === 400 && await h1(reg) === 'Expert broker' &&
    await reg.locator(`#f-hours-${cfg.assignment}`).inputValue() === '2,5' &&
    await reg.locator(`#f-fee-${cfg.assignment}`).inputValue() === 'sata',
  'broker-complete: 400, the broker\'s page again, the hours and fee sent kept');
  await refused(reg, `#f-fee-${cfg.assignment}`, 'broker-complete-fee');
  await reg.goto(`${base}/office/broker?lang=en`);
  await reg.fill('#f-ref', 'erä 2026-12');
  b.check(await sentStatus(reg, '/office/broker/paid') === 400 &&
    await h1(reg) === 'Expert broker' &&
    await reg.locator('#f-ref').inputValue() === 'erä 2026-12',
  'broker-paid: 400, the broker\'s page again, the reference sent kept');
  await refused(reg, '#f-ids', 'broker-paid-none');
  // ---- the check-in page before the event's start: the note, the list and the search, but
  // nothing to mark with (its screenshot office-132)
  await reg.goto(`${base}${ev}/check-in?lang=en`);
  b.check((await b.text(reg)).includes('The event has not started yet') &&
    await reg.locator('ul.checkin > li').count() === 1 &&
    await reg.locator('form[role=search] #q').count() === 1 &&
    await reg.locator('button[name=mark], input[type=checkbox], #bulk').count() === 0,
  'checkin-not-started: the note, the person listed, the search, no marking controls');
  const n = b.n;
  b.n = 131;
  await b.both(reg, 'checkin-not-started');
  b.n = n;
  // ---- the check-in page's bulk mark with no one ticked (the event has started): the page
  // again, 400, the error above the list, named by the bulk form's fieldset
  await reg.goto(`${base}/office/events/${cfg.held}/check-in?lang=en`);
  const checkin = await h1(reg);
  const marked = reg.waitForResponse((r) => r.request().isNavigationRequest());
  await reg.click('#bulk button[value="attended"]');
  await reg.waitForLoadState();
  b.check((await marked).status() === 400 && await h1(reg) === checkin &&
    await reg.locator('#e-signup + ul.checkin').count() === 1,
  'checkin-none: 400, the check-in page again, the error above the list');
  await refused(reg, '#f-signup', 'checkin-none');

  // ---- the broker's payment export and statistics with a period ending before it starts: the
  // page again, 400, the dates typed kept
  for (const [path, action, title, name] of [
    ['/office/broker', '/office/broker/payments.csv', 'Expert broker', 'broker-export-to'],
    ['/office/broker/stats', '/office/broker/stats', 'Broker statistics', 'broker-stats-to']]) {
    await reg.goto(`${base}${path}?lang=en`);
    await b.fill(reg, { '#f-from': '2026-06-02', '#f-to': '2026-06-01' });
    b.check(await sentStatus(reg, action) === 400 && await h1(reg) === title &&
      await reg.locator('#f-from').inputValue() === '2026-06-02' &&
      await reg.locator('#f-to').inputValue() === '2026-06-01',
    `${name}: 400, the page again, the dates sent kept`);
    await refused(reg, '#f-to', name);
  }
});
