// Drives the issuer's self-service page in Debian's chromium, as a customer
// would, for issuer/web/browser_test.go. One phase a run:
//
//   node run.mjs activate   a wrong token, a tampered LRF and an LRF from an
//                           appliance whose clock ran ahead are refused next to
//                           their fields (the last with the advice to ask for a
//                           clock reset), then the real LRF gets a license download
//   node run.mjs release    a wrong file and then the appliance's receipt
//   node run.mjs report     pasted text that is no report is refused next to
//                           the field, then the appliance's usage report is
//                           stored (and once more, a replay) and the contract
//                           view charts each limit's peak against its limit
//
// Input by environment: TENURE_URL, TENURE_CONTRACT, TENURE_TOKEN, TENURE_LRF,
// TENURE_TAMPERED_LRF, TENURE_AHEAD_LRF, TENURE_EFFECTIVE (YYYY-MM-DD), TENURE_RECEIPT, TENURE_REPORT,
// TENURE_DOWNLOADS, TENURE_SCREENSHOTS, and TENURE_CHROMIUM (default
// /usr/bin/chromium). The last line on stdout is the phase's result as JSON;
// any failed expectation exits 1 with the reason on stderr.
import { chromium } from 'playwright-core';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

const phase = process.argv[2];
const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const base = env('TENURE_URL').replace(/\/?$/, '/');
const shots = env('TENURE_SCREENSHOTS');
const TIMEOUT = 30000;

function expect(cond, what) {
  if (!cond) throw new Error(what);
}

async function text(page, sel) {
  return (await page.locator(sel).textContent()).replace(/\s+/g, ' ').trim();
}

// visibleText waits for the element to show and returns its text.
async function visibleText(page, sel) {
  await page.locator(sel).waitFor({ state: 'visible', timeout: TIMEOUT });
  return text(page, sel);
}

async function waitText(page, sel, want) {
  try {
    await page.waitForFunction(([s, w]) => {
      const e = document.querySelector(s);
      return e && e.textContent.includes(w);
    }, [sel, want], { timeout: TIMEOUT });
  } catch (e) {
    throw new Error(`${sel} never showed ${JSON.stringify(want)}; it shows ${JSON.stringify(await text(page, sel))}`);
  }
}

async function shot(page, name, sel) {
  const path = join(shots, name);
  if (sel) await page.locator(sel).screenshot({ path });
  else await page.screenshot({ path, fullPage: true });
}

// dropFile drops a file on a drop box, as a file dragged from the desktop.
async function dropFile(page, sel, path) {
  const content = await readFile(path, 'utf8');
  const dt = await page.evaluateHandle(([name, body]) => {
    const dt = new DataTransfer();
    dt.items.add(new File([body], name, { type: 'text/plain' }));
    return dt;
  }, [basename(path), content]);
  await page.dispatchEvent(sel, 'drop', { dataTransfer: dt });
}

async function openPage(browser) {
  const context = await browser.newContext({ acceptDownloads: true, viewport: { width: 1000, height: 900 }, deviceScaleFactor: 1 });
  const page = await context.newPage();
  const problems = [];
  page.on('console', (m) => {
    // A refused API call logs the HTTP status as a console error; that is
    // the page working. Anything else (a CSP violation, a script error) is not.
    if (m.type() === 'error' && !/status of (4\d\d)/.test(m.text())) problems.push('console: ' + m.text());
  });
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith(base) && !u.startsWith('blob:') && !u.startsWith('data:')) problems.push('request to another origin: ' + u);
  });
  await page.goto(base);
  await page.waitForSelector('html.ready', { timeout: TIMEOUT });
  return { context, page, problems };
}

// noLeaks checks that the token went nowhere but the tab.
async function noLeaks(context, page, token) {
  expect(!page.url().includes(token), `the token is in the URL ${page.url()}`);
  const stored = await page.evaluate(() => ({ local: localStorage.length, cookie: document.cookie }));
  expect(stored.local === 0, `the page wrote ${stored.local} item(s) to localStorage`);
  expect(stored.cookie === '', `the page set cookies: ${stored.cookie}`);
  expect((await context.cookies()).length === 0, 'the browser holds cookies');
}

async function activate(page, context) {
  const contract = env('TENURE_CONTRACT');
  const token = env('TENURE_TOKEN');
  const effective = env('TENURE_EFFECTIVE');
  const downloads = env('TENURE_DOWNLOADS');

  // A wrong token: refused next to the token field; nothing typed is lost.
  const wrong = 'tnr_' + 'X'.repeat(52);
  await page.fill('#contract', contract);
  await page.fill('#token', wrong);
  await page.click('#open');
  const tokenError = await visibleText(page, '#token-error');
  expect(tokenError.startsWith('Unauthorized'), `a wrong token shows ${JSON.stringify(tokenError)}, want the title Unauthorized`);
  expect(tokenError.includes('token is not known'), `a wrong token shows ${JSON.stringify(tokenError)}, want the problem's detail`);
  expect(await page.inputValue('#contract') === contract, 'the contract id was lost on a refusal');
  expect(await page.inputValue('#token') === wrong, 'the token was lost on a refusal');
  expect(await page.isHidden('#contract-error'), 'a wrong token was shown next to the contract id too');
  await shot(page, 'refusal-token.png');

  // The right token for another contract: refused next to the contract id.
  await page.fill('#token', token);
  expect(await page.isHidden('#token-error'), 'the refusal stayed after the token was changed');
  await page.fill('#contract', contract + '9');
  await page.click('#open');
  const contractError = await visibleText(page, '#contract-error');
  expect(contractError.startsWith('Forbidden') && contractError.includes(`this token is for contract ${contract}`),
    `a token of another contract shows ${JSON.stringify(contractError)}, want Forbidden and the problem's detail`);
  expect(await page.isHidden('#token-error'), 'a refusal of the contract id was shown next to the token too');

  // The right contract shows it, no appliance yet.
  await page.fill('#contract', contract);
  expect(await page.isHidden('#contract-error'), 'the refusal stayed after the contract id was changed');
  await page.click('#open');
  await page.locator('#contract-view').waitFor({ state: 'visible', timeout: TIMEOUT });
  expect(await text(page, '#c-id') === contract, 'the contract view shows another contract');
  await waitText(page, '#c-seats', '0 of 2 used, 2 free');
  // The product's own feature names: the contract's, and the catalog's
  // others set apart.
  await page.locator('#c-features li.off').first().waitFor({ state: 'visible', timeout: TIMEOUT });
  const chips = await page.locator('#c-features li').evaluateAll((ls) => ls.map((l) => [l.textContent, l.className]));
  expect(JSON.stringify(chips) === JSON.stringify([['monitoring', ''], ['peering', 'off'], ['scion', ''], ['vpn', '']]),
    `the features show ${JSON.stringify(chips)}, want the contract's three and the product's peering set apart`);

  // A tampered LRF, dropped on the box: refused next to the file.
  await page.fill('#effective', effective);
  await dropFile(page, '#lrf-drop', env('TENURE_TAMPERED_LRF'));
  await waitText(page, '#lrf-name', basename(env('TENURE_TAMPERED_LRF')));
  await page.click('#get-license');
  const lrfError = await visibleText(page, '#lrf-error');
  expect(lrfError.startsWith('Bad Request'), `a tampered LRF shows ${JSON.stringify(lrfError)}, want the title Bad Request`);
  expect(lrfError.includes('send the LRF exactly as'), `a tampered LRF shows ${JSON.stringify(lrfError)}, want the problem's detail`);
  expect(await page.inputValue('#effective') === effective, 'the effective date was lost on a refusal');
  expect(await page.inputValue('#token') === token, 'the token was lost on a refusal');
  expect(await page.isHidden('#activation'), 'a refused LRF showed a license');
  expect((await text(page, '#lrf-name')).includes(basename(env('TENURE_TAMPERED_LRF'))), 'the chosen file was lost on a refusal');
  await shot(page, 'refusal.png');

  // An LRF from an appliance whose clock ran to 2099: refused next to the
  // file, with what the customer can do about it.
  await page.setInputFiles('#lrf', env('TENURE_AHEAD_LRF'));
  expect(await page.isHidden('#lrf-error'), 'the refusal stayed after another file was chosen');
  await page.click('#get-license');
  await waitText(page, '#lrf-error', 'from the future');
  const clockError = await visibleText(page, '#lrf-error');
  expect(clockError.startsWith('Unprocessable Entity'), `an LRF from 2099 shows ${JSON.stringify(clockError)}, want the title Unprocessable Entity`);
  expect(clockError.includes('2099-01-01'), `an LRF from 2099 shows ${JSON.stringify(clockError)}, want the problem's detail`);
  const advice = await visibleText(page, '#lrf-error .problem-advice');
  expect(advice.includes('Ask the vendor for a clock reset') && advice.includes('tenure install'),
    `an LRF from 2099 advises ${JSON.stringify(advice)}, want a clock reset from the vendor`);
  expect(await page.isHidden('#activation'), 'a refused LRF showed a license');
  await shot(page, 'refusal-clock.png');

  // The real LRF, picked with the file dialog: the license downloads.
  await page.setInputFiles('#lrf', env('TENURE_LRF'));
  expect(await page.isHidden('#lrf-error'), 'the refusal stayed after another file was chosen');
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: TIMEOUT }),
    page.click('#get-license'),
  ]);
  const id = await visibleText(page, '#license-id');
  const name = download.suggestedFilename();
  expect(/^L-[A-Z2-7]{26}$/.test(id), `the license id shown is ${JSON.stringify(id)}`);
  expect(name === id + '.license', `the download is named ${name}, want ${id}.license`);
  const file = join(downloads, name);
  await download.saveAs(file);
  expect(await text(page, '#license-reason') === 'initial', `the case shown is ${await text(page, '#license-reason')}, want initial`);
  expect(await text(page, '#license-from') === effective, `the window starts ${await text(page, '#license-from')}, want ${effective}`);
  expect((await text(page, '#license-until')).length === 10, 'the window has no end date');
  expect((await text(page, '#install-cmd')) === 'tenure install ' + name, 'the install command names another file');

  // The contract view follows: one seat used, the license on the time line.
  await waitText(page, '#c-seats', '1 of 2 used, 1 free');
  await waitText(page, '#c-licenses', id);
  await waitText(page, '#c-appliances', await text(page, '#license-appliance'));
  const bars = await page.locator(`#c-timeline rect[data-license="${id}"]`).count();
  expect(bars === 1, `the time line has ${bars} bar(s) for ${id}`);
  await shot(page, 'activation.png');
  await shot(page, 'contract.png', '#contract-view');

  // The ledger, newest first: the activation on top, the newest page only
  // (the 120 refusals the test made fill more than one), the older on
  // request, down to the order.
  await waitText(page, '#c-ledger tbody tr:first-child', id);
  const top = await page.locator('#c-ledger tbody tr:first-child td').allTextContents();
  expect(top[1] === 'activation' && top[2] === 'accepted' && top[3] === '201' && top[5] === id,
    `the newest ledger row is ${JSON.stringify(top)}, want the accepted activation of ${id}`);
  const newest = await page.locator('#c-ledger tbody tr').count();
  expect(newest > 0 && newest < 100, `the ledger shows ${newest} rows at first, want the newest page only`);
  const actions = await page.locator('#c-ledger tbody td:nth-child(2)').allTextContents();
  expect(!actions.includes('order'), 'the newest page of the ledger shows the order, the oldest entry');
  await page.locator('#ledger-more').waitFor({ state: 'visible', timeout: TIMEOUT });
  await page.click('#ledger-more');
  await waitText(page, '#c-ledger tbody tr:last-child td:nth-child(2)', 'order');
  const all = await page.locator('#c-ledger tbody tr').count();
  expect(all === newest + 100, `the ledger shows ${all} rows after "Show older entries", want ${newest} + 100`);
  const refused = await page.locator('#c-ledger tbody td.outcome-refused').count();
  expect(refused >= 120, `the ledger shows ${refused} refusals, want the 120 forbidden requests and more`);
  expect(await page.isHidden('#ledger-more'), 'the button for older entries stays after the oldest page');
  await shot(page, 'ledger.png', '#c-ledger');

  await noLeaks(context, page, token);
  return { license: id, file };
}

async function release(page, context) {
  const token = env('TENURE_TOKEN');
  await page.fill('#contract', env('TENURE_CONTRACT'));
  await page.fill('#token', token);

  // An LRF is not a receipt: refused next to the receipt field.
  await page.setInputFiles('#receipt', env('TENURE_LRF'));
  await page.click('#send-receipt');
  const err = await visibleText(page, '#receipt-error');
  expect(err.startsWith('Bad Request'), `an LRF sent as a receipt shows ${JSON.stringify(err)}, want Bad Request`);

  await page.setInputFiles('#receipt', env('TENURE_RECEIPT'));
  await page.click('#send-receipt');
  const released = await visibleText(page, '#released-ids');
  await waitText(page, '#released-free', '2 seats are free');
  await page.locator('#contract-view').waitFor({ state: 'visible', timeout: TIMEOUT });
  await waitText(page, '#c-seats', '0 of 2 used, 2 free');
  await waitText(page, '#c-appliances', 'released');
  await waitText(page, '#c-licenses', 'released');
  await waitText(page, '#c-ledger tbody tr:first-child', 'release');
  await shot(page, 'release.png');
  await noLeaks(context, page, token);
  return { released: released.split(', ') };
}

async function report(page, context) {
  const token = env('TENURE_TOKEN');
  await page.fill('#contract', env('TENURE_CONTRACT'));
  await page.fill('#token', token);
  await page.click('#open');
  await page.locator('#contract-view').waitFor({ state: 'visible', timeout: TIMEOUT });
  await waitText(page, '#c-usage', 'No usage report yet');

  // Pasted text that is no report: refused next to the report field.
  await page.fill('#report-text', 'this is not a usage report');
  await page.click('#send-report');
  const err = await visibleText(page, '#report-error');
  expect(err.startsWith('Bad Request') && err.includes('tenure report'), `pasted text that is no report shows ${JSON.stringify(err)}, want Bad Request and what to do`);
  expect(await page.isHidden('#reported'), 'a refused report showed a result');
  await shot(page, 'refusal-report.png', '#report-usage');

  // The appliance's report, chosen as a file (the pasted text cleared).
  await page.fill('#report-text', '');
  expect(await page.isHidden('#report-error'), 'the refusal stayed after the text was changed');
  await page.setInputFiles('#report', env('TENURE_REPORT'));
  await page.click('#send-report');
  const id = await visibleText(page, '#report-id');
  expect(/^[0-9a-f]{64}$/.test(id), `the report id shown is ${JSON.stringify(id)}`);
  expect(await page.isHidden('#report-replay'), 'a new report was shown as a replay');
  const appliance = await text(page, '#report-appliance');

  // The contract view charts each limit: vpn_users over its limit (red),
  // peering_tunnels within.
  await page.locator('#c-usage figure[data-limit="vpn_users"]').waitFor({ state: 'visible', timeout: TIMEOUT });
  const vpn = '#c-usage figure[data-limit="vpn_users"]';
  const overBars = await page.locator(`${vpn} rect.bar.over`).count();
  expect(overBars === 2, `the vpn_users chart has ${overBars} bars over the limit, want the peak's and the appliance's`);
  expect(await page.locator(`${vpn} line.limit`).count() === 1, 'the vpn_users chart has no limit line');
  const caption = await text(page, `${vpn} figcaption`);
  expect(caption.includes('peak 300 of 250') && caption.includes('over by 50'), `the vpn_users chart says ${JSON.stringify(caption)}`);
  const red = await page.locator(`${vpn} rect.bar.over.peak`).evaluate((r) => getComputedStyle(r).fill);
  expect(red === 'rgb(180, 35, 24)', `the peak over the limit is drawn in ${red}, want red`);
  const tunnels = '#c-usage figure[data-limit="peering_tunnels"]';
  expect(await page.locator(`${tunnels} rect.bar.within`).count() === 2 && await page.locator(`${tunnels} rect.bar.over`).count() === 0,
    'the peering_tunnels chart does not show its peak within the limit');
  await waitText(page, '#c-appliances', 'vpn 5 d');
  await shot(page, 'usage.png', '#c-usage');

  // The same report again: a replay, stored once.
  await page.click('#send-report');
  await page.locator('#report-replay').waitFor({ state: 'visible', timeout: TIMEOUT });
  expect(await text(page, '#report-id') === id, 'a replay showed another id');
  await waitText(page, '#c-ledger tbody tr:first-child', 'report');
  await shot(page, 'report.png');
  await noLeaks(context, page, token);
  return { id, appliance };
}

const phases = { activate, release, report };
if (!phases[phase]) {
  console.error(`usage: node run.mjs ${Object.keys(phases).join('|')}`);
  process.exit(2);
}

const browser = await chromium.launch({
  executablePath: process.env.TENURE_CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--disable-sync', '--no-first-run'],
  timeout: 60000,
});
let code = 0;
try {
  const { context, page, problems } = await openPage(browser);
  try {
    const result = await phases[phase](page, context);
    expect(problems.length === 0, 'the page misbehaved:\n  ' + problems.join('\n  '));
    console.log(JSON.stringify(result));
  } catch (e) {
    await shot(page, `failed-${phase}.png`).catch(() => {});
    throw e;
  }
} catch (e) {
  console.error(`${phase}: ${e.message}`);
  code = 1;
} finally {
  await browser.close();
}
process.exit(code);
