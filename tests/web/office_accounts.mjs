// Browser test of the back office's account lifecycle and the own password (issue 14, part 1),
// run by tests/integration/test_web_office_accounts.py:
//
//   node tests/web/office_accounts.mjs <base-url> <outdir> '<json>'
//
// json: {"regional": [user, password], "target": [user, password, id],
//        "newPassword": a new password for target}
//
// In Debian's headless Chromium (playwright-core, a fresh profile per person): the regional
// coordinator opens the accounts page, follows an account's link with the keyboard, disables
// it (the target's live browser is sent to the sign-in page at its next click), enables it
// again, changes its municipalities; the target changes its own password on the Swedish page
// (a wrong current password first: the error beside its field). Every page is checked by
// axe-core (wcag2a, wcag2aa, wcag21a, wcag21aa; 0 violations) and saved as
// <outdir>/office-8N-<page>.png.
import { officeScript } from './lib.mjs';

const { base, cfg, b } = officeScript('office_accounts.mjs', 79);
const [tuser, tpass, tid] = cfg.target;

await b.run(async () => {
  const reg = await b.person('fi-FI');
  await b.signIn(reg, cfg.regional, 'fi');
  const target = await b.person('sv-FI');
  await b.signIn(target, [tuser, tpass], 'sv');

  // The accounts page; the account's own page reached with the keyboard.
  await reg.goto(`${base}/office/accounts?lang=en`);
  b.check((await b.text(reg)).includes(tuser), 'the accounts page lists the account');
  await b.both(reg, 'accounts');
  await b.tabTo(reg, (f) => f.tag === 'a' && f.href === `/office/accounts/${tid}`);
  await reg.keyboard.press('Enter');
  await reg.waitForURL(`**/office/accounts/${tid}`);
  await b.both(reg, 'account');

  // Disable: the target's next click lands on the sign-in page.
  await b.tabTo(reg, (f) => f.id === 'f-state');
  await reg.keyboard.press('Enter');
  await reg.waitForURL(`**/office/accounts/${tid}/disable`);
  b.check((await b.text(reg)).includes('disabled and its sessions have ended'),
    'the account is disabled, saying its sessions ended');
  await b.both(reg, 'account-disabled');
  await target.click('nav a[href="/office"]');
  await target.waitForURL('**/office/sign-in');
  b.check(target.url().includes('/office/sign-in'),
    'the disabled account\'s browser is sent to the sign-in page');

  // Enable again; a municipality more.
  await reg.click('#f-state');
  await reg.waitForURL(`**/office/accounts/${tid}/enable`);
  b.check((await b.text(reg)).includes('The account is enabled'), 'the account is enabled again');
  await reg.fill('#f-municipalities', '743, 005');
  await reg.click('form[action$="/scope"] button[type=submit]');
  await reg.waitForURL(`**/office/accounts/${tid}/scope`);
  b.check((await reg.inputValue('#f-municipalities')) === '743, 005',
    'the municipalities are saved');
  await b.both(reg, 'account-scope');
  // Removing without the ticked box: the error links to the box.
  await reg.click('form[action$="/remove"] button[type=submit]');
  await reg.waitForURL(`**/office/accounts/${tid}/remove`);
  b.check((await reg.getAttribute('#f-confirm', 'aria-invalid')) === 'true',
    'a removal without the ticked box is refused beside the box');
  await b.both(reg, 'account-remove-unconfirmed');

  // The target signs in again and changes the password on the Swedish page.
  await b.signIn(target, [tuser, tpass], 'sv');
  await target.click('a[href="/office/password"]');
  await target.waitForURL('**/office/password');
  b.check((await target.textContent('h1')).trim() === 'Byt lösenord', 'the Swedish password page');
  await b.both(target, 'password-sv');
  await b.fill(target, { '#f-current': 'inte-det-ratta-losenordet',
    '#f-password': cfg.newPassword, '#f-password2': cfg.newPassword });
  await target.click('form[action="/office/password"] button[type=submit]');
  await target.waitForSelector('.error-summary');
  b.check((await target.getAttribute('#f-current', 'aria-invalid')) === 'true' &&
    (await b.text(target)).includes('Det nuvarande lösenordet är inte rätt'),
    'a wrong current password is refused in Swedish, beside its field');
  await b.both(target, 'password-sv-wrong');
  await b.fill(target, { '#f-current': tpass, '#f-password': cfg.newPassword,
    '#f-password2': cfg.newPassword });
  await b.pressOn(target, (f) => f.tag === 'button' && f.text === 'Byt lösenord', 'Enter');
  await target.waitForSelector('.done');
  b.check((await b.text(target)).includes('Lösenordet har bytts'), 'the password is changed');
  await b.both(target, 'password-sv-done');
  b.check(await b.status(target, '/office') === 200, 'and this browser stays signed in');
});
