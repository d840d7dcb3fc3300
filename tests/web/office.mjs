// Browser test of the coordinators' back office (issue 14), run by
// tests/integration/test_web_office_browser.py in two phases with the suite in between:
//
//   node tests/web/office.mjs <base-url> <outdir> create '<json>'
//   node tests/web/office.mjs <base-url> <outdir> door '<json>'
//
// json: {"regional": [user, password], "municipal": [...], "expert": [...],
//        "other_event": id of another municipality's event, "event": id (door phase)}
//
// In Debian's headless Chromium (playwright-core, a fresh profile per role):
//  create: the sign-in page in three languages and with a wrong password; the regional
//          coordinator's front page, accounts (adding one on the page), events, organisation
//          search, coverage and broker; the expert coordinator's front page, broker and the
//          refusal of the events list; the municipal contact person creates a partnership
//          table for their municipality (first with an error), publishes it, searches their
//          organisations and sees their coverage; prints "event: <id>".
//  door:   (the suite has signed people up and moved the events clock past the start) the
//          contact person opens the event, checks people in on a phone-sized screen (search
//          by name, one tap with the keyboard), downloads the participants CSV and the door
//          list, fails to open another municipality's event (403); the regional coordinator
//          finds that attempt in the audit; sign-out.
// Every page is checked by axe-core (wcag2a, wcag2aa, wcag21a, wcag21aa; 0 violations) and
// saved as a full-page screenshot <outdir>/office-NN-<page>.png. The last line is a JSON
// summary. Exit code 0 only if every check passed.
import fs from 'node:fs';
import path from 'node:path';
import { Browser } from './lib.mjs';

const [base, outdir, phase, json] = process.argv.slice(2);
if (!base || !outdir || !phase || !json) {
  console.error('usage: node office.mjs <base-url> <outdir> create|door <json>');
  process.exit(2);
}
const cfg = JSON.parse(json);
// Screenshots office-01.. (create), then on from where create stopped (door: cfg.first).
const b = new Browser({ base, outdir, prefix: 'office-', first: cfg.first || 0 });

// The same with the keyboard alone: Tab to the fields, type, Enter.
async function signInKeyboard(page, who, lang = 'en') {
  await page.goto(`${base}/office/sign-in?lang=${lang}`);
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate(() => document.activeElement.id === 'f-user')) break;
  }
  await page.keyboard.type(who[0]);
  await page.keyboard.press('Tab');
  b.check(await page.evaluate(() => document.activeElement.id === 'f-password'),
    'Tab goes from the user name to the password');
  await page.keyboard.type(who[1]);
  await page.keyboard.press('Enter');
  await page.waitForURL('**/office');
  b.check(page.url().endsWith('/office'), `${who[0]} signs in with the keyboard alone`);
}

await b.run(async () => {
  if (phase === 'create') {
    // ---- the sign-in page -----------------------------------------------------------------
    const anon = await b.person('fi-FI');
    for (const lang of ['fi', 'sv', 'en']) {
      await anon.goto(`${base}/office/sign-in?lang=${lang}`);
      await b.both(anon, `sign-in-${lang}`);
    }
    await anon.fill('#f-user', cfg.regional[0]);
    await anon.fill('#f-password', 'not the password');
    await b.submit(anon, '/office/sign-in');
    b.check((await anon.textContent('[role=alert]')).includes('Wrong user name or password'),
      'a wrong password is refused with a message');
    await b.both(anon, 'sign-in-wrong-password');

    // ---- the regional coordinator -----------------------------------------------------------
    const reg = await b.person('fi-FI');
    await b.signIn(reg, cfg.regional);
    await b.both(reg, 'regional-home');
    await b.navTo(reg, '/office/accounts');
    await b.both(reg, 'regional-accounts');
    await b.fill(reg, { '#f-user': 'kauhava', '#f-role': '2', '#f-municipalities': '233',
      '#f-password': 'short' });
    await b.submit(reg, '/office/accounts');
    await b.invalid(reg, '#f-password', 'a short password is marked invalid on the accounts page');
    await b.both(reg, 'regional-accounts-error');
    await reg.fill('#f-password', 'Kauhavan-yhteyshenkilo-1');
    await b.submit(reg, '/office/accounts');
    b.check((await reg.textContent('main table')).includes('kauhava'),
      'the new account is in the list');
    await b.both(reg, 'regional-account-added');
    await reg.goto(base + '/office/events');
    await b.both(reg, 'regional-events');
    b.check(await reg.locator('table.month caption').count() === 1 &&
      await reg.locator('table.month thead th[scope=col]').count() === 7,
      'the events list has a month calendar: a table with a caption and 7 column headers');
    await reg.click('nav.month-nav a[href*="month="]:last-child');
    await reg.waitForURL('**/office/events?month=*');
    // The Vaasa table starts in three days: its Helsinki month.
    const ym = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Europe/Helsinki', year: 'numeric',
      month: '2-digit' }).format(new Date(Date.now() + 3 * 86400e3));
    await reg.goto(`${base}/office/events?month=${ym}`);
    b.check((await reg.textContent('table.month')).includes('Vaasan kumppanuuspöytä'),
      `the month calendar of ${ym} has the Vaasa table on its day`);
    await b.both(reg, 'calendar');
    await b.navTo(reg, '/office/organisations');
    await reg.fill('#f-q', 'alaj');
    await reg.click('form[action="/office/organisations"] button[type=submit]');
    await reg.waitForURL('**/office/organisations?*');
    b.check((await reg.textContent('main table')).includes('Alajärven Nuorisoseura'),
      'the organisation search finds Alajärven Nuorisoseura by "alaj"');
    await b.both(reg, 'regional-organisations');
    await b.navTo(reg, '/office/coverage');
    b.check((await reg.textContent('table[aria-labelledby=gaps]')).includes('005'),
      'coverage lists Alajärvi without a contact person');
    await b.both(reg, 'regional-coverage');
    await b.navTo(reg, '/office/import');
    await b.both(reg, 'regional-import');
    await reg.fill('#f-csv', 'name_fi,home_municipality,fields\nKurikan Kyläyhdistys,301,village\n' +
      'Tuntematon seura,999,village\n');
    await Promise.all([reg.waitForURL('**/office/import'), reg.click('button[value=check]')]);
    b.check((await reg.textContent('main table')).includes('home_municipality'),
      'the import check shows the bad row in a table');
    await b.both(reg, 'regional-import-errors');
    await b.navTo(reg, '/office/broker');
    await b.both(reg, 'regional-broker');

    // ---- the expert coordinator -----------------------------------------------------------
    const ex = await b.person('fi-FI');
    await signInKeyboard(ex, cfg.expert);
    await b.both(ex, 'expert-home');
    await b.navTo(ex, '/office/broker');
    b.check((await ex.textContent('main')).includes('Mielenterveyspaneeli Seinäjoella'),
      'the expert coordinator sees the open request');
    await b.both(ex, 'expert-broker');
    await b.refused(ex, '/office/events', 'the expert coordinator has no events',
      'expert-events-refused');

    // ---- the municipal contact person creates and publishes a table ------------------------
    const mu = await b.person('fi-FI');
    await b.signIn(mu, cfg.municipal, 'fi');
    await b.both(mu, 'municipal-home');
    await b.navTo(mu, '/office/events/new');
    await b.both(mu, 'municipal-new-event');
    const d = new Date(Date.now() + 86400 * 1000);
    const day = d.toISOString().slice(0, 10);
    await b.fill(mu, { '#f-date': day, '#f-start': '17:00', '#f-end': '19:00', '#f-capacity': '25',
      '#f-place': 'Seinäjoen pääkirjasto, Apila-sali' });
    await b.submit(mu, '/office/events');
    await b.invalid(mu, '#f-title', 'a missing title is shown beside the field');
    await b.both(mu, 'municipal-new-event-error');
    await mu.fill('#f-title', 'Kumppanuuspöytä: nuorten harrastukset');
    await mu.selectOption('#f-kind', '1');
    await mu.click('form[action="/office/events"] button[type=submit]');
    await mu.waitForURL(/\/office\/events\/\d+$/);
    const eventId = mu.url().match(/\/office\/events\/(\d+)$/)[1];
    b.check((await mu.textContent('dl.facts')).includes('luonnos'), 'the new event is a draft');
    await b.both(mu, 'municipal-event-draft');
    await mu.click('form[action$="/publish"] button[type=submit]');
    await mu.waitForURL(/\?done=published$/);
    b.check((await mu.textContent('[role=status]')).includes('julkaistu'),
      'the event is published');
    await b.both(mu, 'municipal-event-published');
    await mu.goto(base + '/office/events');
    b.check((await mu.textContent('main table')).includes('nuorten harrastukset'),
      'the event is in the contact person\'s list');
    await b.both(mu, 'municipal-events');
    await mu.goto(base + '/office/organisations');
    b.check((await mu.textContent('main')).includes('Seinäjoen Mielenterveysseura'),
      'the contact person\'s organisation search is Seinäjoki\'s');
    await b.both(mu, 'municipal-organisations');
    await mu.goto(base + '/office/coverage');
    await b.both(mu, 'municipal-coverage');
    console.log(`event: ${eventId}`);
  } else if (phase === 'door') {
    // ---- at the door, on a phone ----------------------------------------------------------
    const mu = await b.person('fi-FI', { width: 390, height: 844 });
    await b.signIn(mu, cfg.municipal, 'fi');
    await mu.goto(`${base}/office/events/${cfg.event}`);
    b.check((await mu.textContent('main')).includes('Liisa Virtanen'),
      'the event page lists the participants');
    await b.both(mu, 'municipal-event-participants');
    await mu.click(`a[href="/office/events/${cfg.event}/check-in"]`);
    await mu.waitForURL('**/check-in');
    b.check(await mu.locator('text=ei ole vielä alkanut').count() === 0,
      'the event has started: no "not started" note');
    await b.both(mu, 'municipal-check-in');
    await mu.fill('#q', 'virta');
    await mu.keyboard.press('Enter');
    await mu.waitForURL('**/check-in?q=virta');
    const rows = await mu.locator('ul.checkin > li').count();
    b.check(rows === 1, `the search by name finds one person (${rows})`);
    await b.both(mu, 'municipal-check-in-search');
    // One tap, by keyboard: focus the button and press Enter.
    await mu.focus('ul.checkin button[value=attended]');
    await mu.keyboard.press('Enter');
    await mu.waitForURL(/marked=attended/);
    b.check((await mu.textContent('[role=status]')).includes('saapuneeksi'),
      'the person is marked attended');
    b.check((await mu.textContent('ul.checkin')).includes('Saapui'), 'and shows so in the list');
    await b.both(mu, 'municipal-check-in-marked');
    // Bulk: choose two people, mark them both as did-not-come with one button.
    await mu.goto(`${base}/office/events/${cfg.event}/check-in`);
    await mu.check('ul.checkin li:has-text("Matti") input[type=checkbox]');
    await mu.check('ul.checkin li:has-text("Kalle") input[type=checkbox]');
    await b.both(mu, 'municipal-check-in-bulk-chosen');
    await mu.click('#bulk button[value=no_show]');
    await mu.waitForURL(/marked=no_show&n=2/);
    b.check((await mu.textContent('[role=status]')).includes('2'),
      'two people marked at once');
    await b.both(mu, 'municipal-check-in-bulk-marked');
    await mu.goto(`${base}/office/events/${cfg.event}`);
    const [dl] = await Promise.all([
      mu.waitForEvent('download'),
      mu.click(`a[href="/office/events/${cfg.event}/participants.csv"]`),
    ]);
    const csvPath = path.join(outdir, 'office-participants.csv');
    await dl.saveAs(csvPath);
    const csv = fs.readFileSync(csvPath, 'utf8');
    b.check(csv.includes('Liisa Virtanen') && csv.includes('attended') && csv.includes('no-show'),
      'the participants CSV has the people and the marks');
    fs.unlinkSync(csvPath); // personal data: not left behind
    const [dd] = await Promise.all([
      mu.waitForEvent('download'),
      mu.click(`a[href="/office/events/${cfg.event}/door.csv"]`),
    ]);
    const doorPath = path.join(outdir, 'office-door.csv');
    await dd.saveAs(doorPath);
    b.check(fs.readFileSync(doorPath, 'utf8').includes('Liisa Virtanen'),
      'the door list downloads');
    fs.unlinkSync(doorPath);
    // After the event: held, with the memo and materials.
    await mu.goto(`${base}/office/events/${cfg.event}`);
    await mu.fill('#f-memo_url', 'https://muistiot.example.fi/nuorten-harrastukset');
    await mu.fill('#f-materials_url', 'https://aineistot.example.fi/nuorten-harrastukset');
    await mu.click('form[action$="/held"] button[type=submit]');
    await mu.waitForURL(/\?done=held$/);
    b.check((await mu.textContent('dl.facts')).includes('muistiot.example.fi'),
      'the event is held, its memo linked');
    await b.both(mu, 'municipal-event-held');
    b.check(await b.status(mu, `/office/events/${cfg.other_event}`) === 403,
      'another municipality\'s event is refused (403)');
    b.check((await mu.textContent('main')).includes('oikeutta'), 'and the page says so');
    await b.both(mu, 'municipal-other-event-refused');
    await mu.goto(base + '/office/stats');
    await b.both(mu, 'municipal-stats');
    // Sign out: the session ends.
    await mu.goto(base + '/office');
    await mu.click('form[action="/office/sign-out"] button[type=submit]');
    await mu.waitForURL('**/office/sign-in');
    b.check(await b.status(mu, '/office') === 200 && mu.url().endsWith('/office/sign-in'),
      'after sign-out the office sends to the sign-in page');

    // ---- the regional coordinator reads the audit -----------------------------------------
    const reg = await b.person('fi-FI');
    await b.signIn(reg, cfg.regional, 'en');
    await b.navTo(reg, '/office/stats');
    await reg.selectOption('#f-kind', '1');
    // The table is tomorrow: its year as the period, in person.
    await reg.selectOption('#f-period', String(new Date(Date.now() + 86400e3).getFullYear()));
    await reg.selectOption('#f-mode', 'in-person');
    await reg.click('form[action="/office/stats"] button[type=submit]');
    await reg.waitForURL('**/office/stats?*');
    b.check(await reg.locator('svg.chart[role=img]').count() >= 3,
      'the statistics show SVG charts');
    b.check((await reg.textContent('p.summary')).includes('3'),
      'the summary counts the table\'s participants');
    await b.both(reg, 'regional-stats');
    await b.navTo(reg, '/office/audit');
    const refused = await reg.locator('tr.denied', { hasText: `event=${cfg.other_event}` })
      .count();
    b.check(refused >= 1, `the audit shows the refused attempt on event ${cfg.other_event}`);
    await b.both(reg, 'regional-audit');
  }
});
