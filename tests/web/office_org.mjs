// The back office's organisation page, its edit and the people pages in headless Chromium
// (run by tests/integration/test_web_office_org.py):
//   node office_org.mjs <base> <outdir> '<json: regional, municipal, org, other_org, person, name>'
// The regional coordinator opens an organisation from the search, edits it with the keyboard
// alone (member count 77: Tab to the field, type, Tab to Save, Enter), sees a bad edit
// refused beside its field, finds a person by name (a POST: the address never holds the
// name), opens their roles and adds one; the municipal contact person is refused another
// municipality's organisation. Every page: a screenshot (office-70..79) and axe.
import { officeScript } from './lib.mjs';

const { base, cfg, b } = officeScript('office_org.mjs', 69);
const orgPath = `/office/organisations/${cfg.org}`;

await b.run(async () => {
  const page = await b.person('en-GB');
  await b.signIn(page, cfg.regional, 'en');

  await page.goto(`${base}/office/organisations?q=sein`);
  await b.both(page, 'org-search');
  await page.click(`a[href="${orgPath}"]`);
  await page.waitForURL(`**${orgPath}`);
  b.check((await b.text(page)).includes('Edit the facts'), 'the search leads to the page');
  await b.both(page, 'org-page');

  // The edit with the keyboard alone.
  await b.tabTo(page, (f) => f.id === 'f-member_count', 200);
  await page.keyboard.press('Control+A');
  await page.keyboard.type('77');
  await b.tabTo(page, (f) => f.id === 'f-save', 10);
  await Promise.all([page.waitForURL('**?saved=1'), page.keyboard.press('Enter')]);
  const saved = await b.text(page);
  b.check(saved.includes('The changes are saved.') && saved.includes('77'),
    'the keyboard edit is saved and shown');
  await b.both(page, 'org-saved');

  // A bad edit: the form again, the problem beside its field.
  await page.fill('#f-web', 'mts.example.fi');
  const [resp] = await Promise.all([page.waitForNavigation(), page.click('#f-save')]);
  b.check(resp.status() === 400, `a bad web address is 400 (${resp.status()})`);
  b.check(await page.isVisible('#e-web') &&
    (await page.getAttribute('#f-web', 'aria-invalid')) === 'true',
  'the error stands beside the field, which is marked invalid');
  await b.both(page, 'org-error');

  // People: the search is a POST, so the name is in no address.
  await page.goto(`${base}/office/people`);
  await b.both(page, 'people');
  await page.fill('#f-name', cfg.name);
  await Promise.all([page.waitForNavigation(), page.click('form[role=search] button')]);
  b.check(page.url() === `${base}/office/people`, 'the address holds no name');
  b.check(await page.isVisible(`a[href="/office/people/${cfg.person}"]`), 'the person found');
  await b.both(page, 'people-found');
  await page.click(`a[href="/office/people/${cfg.person}"]`);
  await page.waitForURL(`**/office/people/${cfg.person}`);
  const roles = await b.text(page);
  b.check(roles.includes('NGO contact person') && roles.includes('representative'),
    'the person page lists their roles');
  await b.both(page, 'person');
  await b.fill(page, { '#f-kind': '3', '#f-municipality': '743',
    '#f-title': 'hyvinvointikoordinaattori' });
  await Promise.all([page.waitForURL('**?done=assigned'), page.click('#f-add')]);
  b.check((await b.text(page)).includes('municipal official'), 'the official role added');
  await b.both(page, 'person-role-added');

  // The municipal contact person: another municipality's organisation is refused.
  const mp = await b.person('fi-FI');
  await b.signIn(mp, cfg.municipal, 'fi');
  await b.refused(mp, `/office/organisations/${cfg.other_org}`,
    "another municipality's organisation is 403", 'org-refused');
  b.check(await b.status(mp, orgPath) === 200, 'their own organisation opens');
  await b.both(mp, 'org-municipal');
});
