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
// coordinator opens the page from the navigation (dead letters, opt-outs), searches with no
// address and with something that is no address (each refused beside the field, the text typed
// kept), searches an address with the form (a POST: the address is not in the URL) and an event;
// the expert coordinator's
// page; the municipal contact person's refusal (403). Every page is checked by axe-core
// (wcag2a, wcag2aa, wcag21a, wcag21aa; 0 violations) and saved as <outdir>/office-4N-<page>.png
// (the refused malformed address as office-131-<page>.png).
// With "mode": "broker" ({"expert", "municipal", "request", "assignment", "first": 46}) it
// shows the broker's pages instead: a request with its ranking, completing an assignment, the
import { officeScript } from './lib.mjs';

const { base, cfg, b } = officeScript('office_sent.mjs', 40);

async function broker() {
  // The expert coordinator: the queue, a request's offers and ranking, completing an assignment
  // with the keyboard-reachable form, the statistics; the contact person's refusal.
  const ex = await b.person('en-GB');
  await b.signIn(ex, cfg.expert);
  await b.navTo(ex, '/office/broker');
  // The request is filled (out of the open queue): by its address.
  await ex.goto(`${base}/office/broker/requests/${cfg.request}`);
  b.check((await ex.textContent('table[aria-labelledby=ranking]'))
    .includes('already accepted this request'), 'the ranking is explained in words');
  b.check((await b.text(ex)).includes('State: filled. Experts confirmed: 1 / 1.'),
    'the request\'s page says it is filled');
  await b.both(ex, 'expert-broker-request');
  await ex.goto(base + '/office/broker');
  await ex.fill(`#f-hours-${cfg.assignment}`, '3');
  await ex.fill(`#f-fee-${cfg.assignment}`, '99,50');
  await Promise.all([ex.waitForURL('**/office/broker?done=completed*'),
    ex.click(`form[action="/office/broker/assignments/${cfg.assignment}/complete"] button`)]);
  b.check((await ex.textContent('[role=status]')).includes('completed'),
    'the assignment is completed on the page');
  await b.both(ex, 'expert-broker-completed');
  await ex.click('a[href="/office/broker/stats"]');
  await ex.waitForURL('**/office/broker/stats');
  await b.both(ex, 'expert-broker-stats');
  const mu = await b.person('fi-FI');
  await b.signIn(mu, cfg.municipal, 'fi');
  await b.refused(mu, `/office/broker/requests/${cfg.request}`,
    'the contact person is refused the request page (403)', 'municipal-broker-refused');
}

await b.run(async () => {
  if (cfg.mode === 'broker') {
    await broker();
  } else {
  const reg = await b.person('en-GB');
  await b.signIn(reg, cfg.regional);
  await b.navTo(reg, '/office/sent');
  b.check((await reg.textContent('table[aria-labelledby=dead]')).includes('Retry'),
    'the dead letters have Retry buttons');
  b.check((await reg.textContent('table[aria-labelledby=optouts]')).includes('opt.out@example.fi'),
    'the opt-outs are listed');
  await b.both(reg, 'regional-sent');
  // No address: the page again, the field marked and named by its error.
  await Promise.all([reg.waitForLoadState(),
    reg.click('form[method=post][action="/office/sent"] button[type=submit]')]);
  await b.invalid(reg, '#f-address', 'an empty address search: the field is marked invalid');
  b.check(await reg.locator('.error-summary a[href="#f-address"]').count() === 1,
    'an empty address search: the summary links to the field');
  await b.both(reg, 'regional-sent-address-empty');
  // Something that is no address: the page again (400), the text typed kept, the field marked
  // and described by the error, which the summary links to (its screenshot office-131).
  await reg.fill('#f-address', 'not an address');
  const answer = reg.waitForResponse((r) => r.request().isNavigationRequest());
  await reg.click('form[method=post][action="/office/sent"] button[type=submit]');
  b.check((await answer).status() === 400, 'no address: the page again, 400');
  await reg.waitForLoadState();
  await b.invalid(reg, '#f-address', 'no address: the field is marked invalid');
  b.check(await reg.inputValue('#f-address') === 'not an address',
    'no address: the text typed is kept in the field');
  const said = ((await reg.textContent('.error-summary a[href="#f-address"]')) || '').trim();
  const described = await reg.locator('#f-address').evaluate((e) =>
    (e.getAttribute('aria-describedby') || '').split(/\s+/)
      .map((id) => (document.getElementById(id) || {}).textContent || '').join(' '));
  b.check(said.includes('neither an e-mail address nor a phone number') &&
    described.includes(said),
  `no address: the error beside the field and in the summary ("${said}")`);
  await reg.click('.error-summary a[href="#f-address"]');
  b.check(await reg.evaluate(() => document.activeElement && document.activeElement.id) ===
    'f-address', "no address: the summary's link moves the focus to the field");
  const n = b.n;
  b.n = 130;
  await b.both(reg, 'regional-sent-address-refused');
  b.n = n;
  await reg.fill('#f-address', cfg.address);
  await Promise.all([reg.waitForLoadState(),
    reg.click('form[method=post][action="/office/sent"] button[type=submit]')]);
  b.check(reg.url().endsWith('/office/sent') && !reg.url().includes('@'),
    'the address search is a POST: the address is not in the URL');
  b.check((await reg.textContent('table[aria-labelledby=found]')).includes('sign-up confirmed'),
    'what went to the address: the confirmation');
  b.check(!(await reg.content()).includes(cfg.address), 'the page does not show the address');
  await b.both(reg, 'regional-sent-address');
  await reg.fill('#f-event', String(cfg.event));
  await Promise.all([reg.waitForURL('**/office/sent?event=*'),
    reg.click('form[method=get][action="/office/sent"] button[type=submit]')]);
  b.check((await reg.textContent('table[aria-labelledby=found]')).includes('reminder'),
    "the event's messages, reminders among them");
  await b.both(reg, 'regional-sent-event');

  const ex = await b.person('fi-FI');
  await b.signIn(ex, cfg.expert, 'fi');
  await b.navTo(ex, '/office/sent');
  b.check(!(await ex.content()).includes('opt.out@example.fi'),
    'the expert coordinator sees no opt-outs');
  await b.both(ex, 'expert-sent');

  const mu = await b.person('fi-FI');
  await b.signIn(mu, cfg.municipal, 'fi');
  b.check(await mu.locator('nav a[href="/office/sent"]').count() === 0,
    'the contact person has no "What was sent" in the navigation');
  await b.refused(mu, '/office/sent', 'and the page is refused (403)', 'municipal-sent-refused');
  }
});
