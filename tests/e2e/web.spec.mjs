// The officer workstation in a real browser against a real server: Debian's chromium driven by
// playwright-core, `clearsight serve` on a loopback port with a temporary SQLite database,
// seeded through the API with simulated scans and declarations made by the CLI.
//
//   CLEARSIGHT_CLI=build/release/clearsight node --test tests/e2e/web.spec.mjs
//
// Environment: CLEARSIGHT_CLI (required), CHROMIUM (default /usr/bin/chromium),
// E2E_SCREENSHOTS (folder for the page screenshots; default: the temporary folder; the
// committed ones in docs/screenshots come from E2E_SCREENSHOTS=docs/screenshots),
// E2E_KEEP=1 keeps the temporary folder.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';

import { addUsers, apiClient, makeInputs, seed, startServer, tempDir } from './lib/fixture.mjs';

let chromium;
try {
  ({ chromium } = await import('playwright-core'));
} catch (e) {
  throw new Error(`playwright-core is not installed: run 'npm ci --prefix tests/e2e' (scripts/install-deps.sh does) (${e.message})`);
}

const CLI = process.env.CLEARSIGHT_CLI;
if (!CLI || !existsSync(CLI)) throw new Error(`set CLEARSIGHT_CLI to the clearsight binary (got '${CLI}')`);
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';

const USERS = {
  officer: { username: 'olga.officer', role: 'officer', password: 'officer-pass-1' },
  analyst: { username: 'ana.analyst', role: 'analyst', password: 'analyst-pass-1' },
  admin: { username: 'root.admin', role: 'admin', password: 'admin-pass-12' },
  feed: { username: 'feed', role: 'integrator', password: 'integrator-pass-1' },
  trainer: { username: 'tom.trainer', role: 'trainer', password: 'trainer-pass-1' },
};

const T = {};  // shared state: tmp, server, inputs, clients, context, page, errors
const TIMEOUT = 20000;

async function launch(profile) {
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
  ctx.setDefaultTimeout(TIMEOUT);
  const page = ctx.pages()[0] || await ctx.newPage();
  page.on('pageerror', (e) => T.errors.push(`pageerror: ${e.message}`));
  // Nothing may leave the machine: every request goes to the server on loopback.
  page.on('request', (r) => {
    const u = new URL(r.url());
    if (!['data:', 'blob:'].includes(u.protocol) && u.hostname !== '127.0.0.1') T.errors.push(`external request: ${r.url()}`);
    else if (u.pathname.startsWith('/api/')) T.requests.push(u.pathname + u.search);
  });
  return { ctx, page };
}

async function screenshot(name) {
  // Pages an officer sees in one screen are taken as the screen shows them; the rest whole.
  await T.page.screenshot({ path: join(T.shots, `${name}.png`), fullPage: !['consignment', 'postal-item'].includes(name) });
  await accessible(name);
}

// axe-core (WCAG 2 A and AA rules) on the page as it is: no serious or critical violation.
// Evaluated through the DevTools protocol, so the page's own CSP stays in force.
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
async function accessible(name) {
  const { page } = T;
  if (!(await page.evaluate(() => !!window.axe))) await page.evaluate(AXE);
  const violations = await page.evaluate(async () => {
    const r = await window.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } });
    return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join('; ')}`);
  });
  assert.deepEqual(violations, [], `accessibility of the ${name} page`);
}

async function login(page, user) {
  await page.goto(`${T.server.base}/#/login`);
  await page.fill('#username', user.username);
  await page.fill('#password', user.password);
  await page.click('.login-form button[type=submit]');
  await page.waitForSelector('#queue-table');
}

// Amounts as the page writes them (ui.js fmtMoney).
const money = (v, currency) => `${Number(v).toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}${currency ? ` ${currency}` : ''}`;

// Rows of the queue table as the page shows them.
function queueRows(page) {
  return page.$$eval('#queue-table tbody tr', (trs) => trs.map((tr) => ({
    id: tr.dataset.id,
    channel: tr.dataset.channel,
    score: +tr.dataset.score,
    cells: Object.fromEntries([...tr.querySelectorAll('[data-col]')].map((c) => [c.dataset.col, c.textContent.trim()])),
  })));
}

// Statistics of the viewer's canvas: mean brightness and the share of clearly coloured pixels.
function canvasStats(page) {
  return page.evaluate(() => {
    const c = document.querySelector('.sv-canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    let sum = 0, colour = 0, blue = 0, orange = 0, hash = 0;
    for (let i = 0; i < d.length; i += 4) {
      const r = d[i], g = d[i + 1], b = d[i + 2];
      sum += r + g + b;
      if (Math.max(r, g, b) - Math.min(r, g, b) > 40) colour++;
      if (b > r + 40) blue++;
      if (r > b + 60 && r > g) orange++;
      hash = (hash * 31 + r + 7 * g + 13 * b) >>> 0;
    }
    const n = d.length / 4;
    return { mean: sum / (3 * n), colour: colour / n, blue: blue / n, orange: orange / n, hash };
  });
}

function readout(page) {
  return page.$$eval('.sv-readout dd[data-field]', (dds) => Object.fromEntries(dds.map((d) => [d.dataset.field, d.textContent.trim()])));
}

// Screen position (page coordinates) of image pixel (x, y) in the viewer.
async function screenOf(page, x, y) {
  return page.evaluate(([x, y]) => {
    const v = window.__clearsightViewer;
    const s = v.toScreen(x + 0.5, y + 0.5);
    const r = v.canvas.getBoundingClientRect();
    return { x: r.left + s.x, y: r.top + s.y };
  }, [x, y]);
}

before(async () => {
  T.errors = [];
  T.requests = [];  // the API requests the page made, path and query
  T.tmp = tempDir();
  T.shots = process.env.E2E_SCREENSHOTS || join(T.tmp.dir, 'screenshots');
  mkdirSync(T.shots, { recursive: true });
  T.inputs = makeInputs(CLI, T.tmp.dir, { count: 14 });
  addUsers(CLI, join(T.tmp.dir, 'clearsight.db'), Object.values(USERS));
  T.server = await startServer(CLI, T.tmp.dir);
  T.feed = await apiClient(T.server.base, USERS.feed.username, USERS.feed.password);
  T.admin = await apiClient(T.server.base, USERS.admin.username, USERS.admin.password);
  await seed(T.feed, T.inputs);
  ({ ctx: T.ctx, page: T.page } = await launch(join(T.tmp.dir, 'profile')));
});

after(async () => {
  await T.ctx?.close().catch(() => {});
  await T.server?.stop();
  if (process.env.E2E_KEEP) console.log(`kept ${T.tmp.dir}`);
  else T.tmp?.remove();
});

test('an unknown visitor is sent to the login page; a wrong password is refused; the officer signs in', async () => {
  const { page } = T;
  await page.goto(`${T.server.base}/`);
  await page.waitForSelector('#username');
  assert.match(page.url(), /#\/login/);
  await screenshot('login');
  await page.fill('#username', USERS.officer.username);
  await page.fill('#password', 'not-the-password');
  await page.click('.login-form button[type=submit]');
  await page.waitForSelector('#login-error:not([hidden])');
  assert.match(await page.textContent('#login-error'), /not right/);
  assert.equal(await page.inputValue('#password'), '', 'the wrong password is cleared');
  await page.fill('#password', USERS.officer.password);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#queue-table');
  assert.equal(await page.textContent('#who-name'), USERS.officer.username);
  assert.equal(await page.textContent('#who-role'), 'officer');
  assert.equal(await page.isVisible('[data-nav="analyst"]'), false, 'officers have no analyst page link');
});

test('the queue shows every pending consignment with id, date, importer, HS, origin, value, score, channel and top reason', async () => {
  const { page } = T;
  const api = await T.admin.get('/api/queue?status=pending&limit=100');
  assert.equal(api.status, 200);
  assert.ok(api.json.total >= 10, `seeded consignments are pending (${api.json.total})`);
  await page.waitForFunction(() => ![...document.querySelectorAll('#queue-table td[data-col="importer"]')].some((td) => td.textContent === '…'));
  const rows = await queueRows(page);
  assert.equal(rows.length, api.json.total);
  assert.equal(+(await page.getAttribute('#queue-total', 'data-total')), api.json.total, 'live count equals the API total');
  assert.deepEqual(rows.map((r) => r.id), api.json.items.map((i) => i.consignment_id), 'same order as the API (score, descending)');
  const decls = Object.fromEntries(T.inputs.decls.map((d) => [d.consignment_id, d]));
  for (const r of rows) {
    const d = decls[r.id];
    const item = api.json.items.find((i) => i.consignment_id === r.id);
    assert.ok(d, `row ${r.id} is a seeded consignment`);
    assert.equal(r.cells.importer, d.importer_id);
    assert.equal(r.cells.hs, d.hs_code);
    assert.equal(r.cells.origin, d.origin_country);
    assert.equal(r.cells.date, d.date);
    assert.ok(r.cells.value.startsWith(Number(d.declared_value).toLocaleString('en-GB', { minimumFractionDigits: 2, maximumFractionDigits: 2 })), `${r.cells.value} vs ${d.declared_value}`);
    // The row comes from the item's declaration summary, currency included.
    assert.equal(item.declarations, 1);
    assert.equal(item.declaration.hs_code, d.hs_code);
    assert.equal(r.cells.value, money(item.declaration.declared_value, item.declaration.currency));
    assert.equal(r.cells.score, item.score.toFixed(3));
    assert.match(r.cells.channel, /^[■▲●] (Red · inspect|Yellow · documents|Green · release)/, 'channel in words, not colour alone');
    assert.equal(r.channel, item.channel);
    assert.equal(r.cells.reason, item.reasons[0]?.text ?? 'no risk evidence');
  }
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].score >= rows[i].score, 'sorted by score, descending');
  assert.deepEqual(T.requests.filter((u) => u.startsWith('/api/consignments/')), [], 'the queue needs no request per row: the items carry their declaration');
  const fits = await page.$eval('#queue-table', (t) => ({ table: t.scrollWidth, wrap: t.parentElement.clientWidth }));
  assert.ok(fits.table <= fits.wrap, `the queue table fits a 1440-px screen (${fits.table} px in ${fits.wrap} px)`);
  // The office filter offers every office the service knows, with its counts.
  const offices = (await T.admin.get('/api/offices')).json.offices;
  assert.ok(offices.length >= 2, 'the seeded declarations come through two offices');
  assert.ok(T.requests.includes('/api/offices'), 'the queue asks the service for its offices');
  await page.waitForFunction((n) => [...document.querySelectorAll('#office-list option')].filter((o) => o.label.includes('pending')).length === n, offices.length);
  const options = await page.$$eval('#office-list option', (os) => os.map((o) => ({ value: o.value, label: o.label })));
  assert.deepEqual(options.map((o) => o.value), offices.map((o) => o.office).sort());
  for (const o of offices) assert.ok(options.find((x) => x.value === o.office).label.includes(`${o.pending} pending of ${o.total}`));
  await screenshot('queue');
  // A consignment known only by its scan has no declaration: the row says so with dashes and
  // asks for nothing more (the answer is altered on its way to the page).
  const scanOnly = rows[0].id;
  // The page's list request is answered from the API (as the administrator) with that
  // consignment's declaration taken out; the count requests go through untouched.
  const isQueue = (url) => url.pathname === '/api/queue' && url.searchParams.get('limit') !== '1';
  await page.route(isQueue, async (route) => {
    const u = new URL(route.request().url());
    const j = (await T.admin.get(u.pathname + u.search)).json;
    for (const it of j.items || []) if (it.consignment_id === scanOnly) { it.declaration = null; it.declarations = 0; }
    await route.fulfill({ status: 200, contentType: 'application/json', body: JSON.stringify(j) });
  });
  T.requests.length = 0;
  try {
    await page.goto(`${T.server.base}/#/queue?limit=25`);
    await page.waitForSelector(`#queue-table tr[data-id="${scanOnly}"]`);
    const alone = (await queueRows(page)).find((r) => r.id === scanOnly);
    for (const col of ['importer', 'hs', 'origin', 'value']) assert.equal(alone.cells[col], '—', `${col} without a declaration`);
  } finally {
    await page.unrouteAll({ behavior: 'ignoreErrors' });
  }
  assert.deepEqual(T.requests.filter((u) => u.startsWith('/api/consignments/')), []);
  await page.goto(`${T.server.base}/#/queue`);
  await page.waitForFunction((id) => {
    const td = document.querySelector(`#queue-table tr[data-id="${id}"] td[data-col="hs"]`);
    return td && td.textContent !== '—';
  }, scanOnly);
});

test('the queue filters by channel, office and status, and every filter agrees with the API', async () => {
  const { page } = T;
  await page.selectOption('#f-channel', 'red');
  await page.waitForFunction(() => location.hash.includes('channel=red'));
  await page.waitForSelector('#queue-table tbody tr, .empty');
  const red = await T.admin.get('/api/queue?status=pending&channel=red&limit=100');
  let rows = await queueRows(page);
  assert.equal(rows.length, red.json.total);
  assert.ok(rows.length > 0, 'some consignments are red');
  assert.ok(rows.every((r) => r.channel === 'red'));
  await page.fill('#f-office', 'ICN1');
  await page.click('.filters button[type=submit]');
  await page.waitForFunction(() => location.hash.includes('office=ICN1'));
  await page.waitForSelector('#queue-table tbody tr, .empty');
  const both = await T.admin.get('/api/queue?status=pending&channel=red&office=ICN1&limit=100');
  rows = await queueRows(page);
  assert.equal(rows.length, both.json.total);
  assert.ok(rows.every((r) => r.channel === 'red' && r.cells.office === 'ICN1'));
  assert.ok(rows.length < red.json.total, 'the office filter removed the other office');
  await page.selectOption('#f-status', 'done');
  await page.waitForFunction(() => location.hash.includes('status=done'));
  await page.waitForSelector('.empty');
  assert.match(await page.textContent('.empty'), /Nothing in the queue/);
  await page.click('text=Clear filters');
  await page.waitForFunction(() => location.hash === '#/queue');
  await page.waitForSelector('#queue-table');
});

test('the queue sorts by the column headers and pages through the results', async () => {
  const { page } = T;
  await page.click('button[data-sort="score"]');  // descending -> ascending
  await page.waitForFunction(() => location.hash.includes('sort=score'));
  await page.waitForSelector('#queue-table');
  let rows = await queueRows(page);
  for (let i = 1; i < rows.length; i++) assert.ok(rows[i - 1].score <= rows[i].score, 'ascending score');
  assert.equal(await page.getAttribute('th:has(button[data-sort="score"])', 'aria-sort'), 'ascending');
  await page.click('button[data-sort="consignment_id"]');
  await page.waitForFunction(() => location.hash.includes('sort=consignment_id'));
  await page.waitForSelector('#queue-table');
  rows = await queueRows(page);
  const ids = rows.map((r) => r.id);
  assert.deepEqual(ids, [...ids].sort(), 'ascending id');

  await page.selectOption('#f-limit', '10');
  await page.waitForFunction(() => location.hash.includes('limit=10'));
  await page.waitForSelector('#queue-table');
  const total = +(await page.getAttribute('#queue-total', 'data-total'));
  const first = await queueRows(page);
  assert.equal(first.length, Math.min(10, total));
  assert.match(await page.textContent('#pager-info'), new RegExp(`^1–10 of ${total}`));
  await page.click('button[aria-label="Next page"]');
  await page.waitForFunction(() => location.hash.includes('page=2'));
  await page.waitForSelector('#queue-table');
  const second = await queueRows(page);
  assert.equal(second.length, total - 10);
  assert.deepEqual([...first, ...second].map((r) => r.id), ids, 'the two pages are the sorted list, split');
  // A page past the end goes to the last page there is; an unknown channel falls back to all.
  await page.goto(`${T.server.base}/#/queue?limit=10&page=9999`);
  await page.waitForFunction(() => location.hash.includes('page=2'));
  await page.waitForSelector('#queue-table');
  assert.match(await page.textContent('#pager-info'), / page 2 of 2$/);
  await page.goto(`${T.server.base}/#/queue?channel=purple`);
  await page.waitForSelector('#queue-table');
  assert.equal(await page.inputValue('#f-channel'), '');
  assert.equal(await page.locator('.error-box').count(), 0, 'no error beside the filter');
  // The risk meter reads red at high scores, not green.
  assert.equal(await page.getAttribute('#queue-table meter', 'optimum'), '0');
  await page.goto(`${T.server.base}/#/queue`);
  await page.waitForSelector('#queue-table');
});

test('the queue searches by importer, HS code, description and id, and sorts by date, importer, HS and value', async () => {
  const { page } = T;
  const all = (await T.admin.get('/api/queue?status=all&limit=1000')).json.items.filter((i) => i.declaration);
  assert.ok(all.length >= 5, 'consignments with declarations');
  const apiIds = async (q) => (await T.admin.get(`/api/queue?status=all&limit=1000&sort=consignment_id&q=${encodeURIComponent(q)}`)).json.items.map((i) => i.consignment_id);
  const search = async (q) => {
    await page.goto(`${T.server.base}/#/queue?status=all&sort=consignment_id&limit=100`);
    await page.waitForSelector('#queue-table');
    await page.fill('#f-q', q);
    await page.press('#f-q', 'Enter');
    await page.waitForFunction((q) => new URLSearchParams(location.hash.split('?')[1]).get('q') === q, q);
    await page.waitForSelector('#queue-table, .queue-page .empty');
    return (await queueRows(page)).map((r) => r.id);
  };
  // An importer, typed in lower case: every consignment whose first declaration has it.
  const importer = all[0].declaration.importer_id;
  let shown = await search(importer.toLowerCase());
  const byImporter = all.filter((i) => i.declaration.importer_id.toLowerCase().includes(importer.toLowerCase())).map((i) => i.consignment_id);
  for (const id of byImporter) assert.ok(shown.includes(id), `importer search shows ${id}`);
  assert.deepEqual(shown, await apiIds(importer.toLowerCase()), 'the page shows what the API finds');
  // An HS heading: every row's HS code starts with it (or the consignment has more declarations).
  const heading = all[1].declaration.hs_code.slice(0, 4);
  shown = await search(heading);
  const rows = await queueRows(page);
  assert.ok(shown.includes(all[1].consignment_id));
  for (const r of rows) assert.ok(r.cells.hs.startsWith(heading) || /\+\d/.test(r.cells.hs), `${r.id} has HS ${r.cells.hs}`);
  // A word of a description, and a consignment id.
  const withText = (await T.admin.get(`/api/consignments/${encodeURIComponent(all[2].consignment_id)}`)).json.declarations.find((d) => d.description);
  if (withText) {
    const word = withText.description.split(/\s+/).find((w) => w.length >= 4) || withText.description;
    shown = await search(word.toUpperCase());
    assert.ok(shown.includes(all[2].consignment_id), `description search for ${word}`);
  }
  shown = await search(all[3].consignment_id);
  assert.ok(shown.includes(all[3].consignment_id));
  assert.ok(shown.length < all.length, 'an id search narrows the queue');
  // Nothing found says so; the search survives a reload, and Clear filters empties it.
  shown = await search('no-such-thing-anywhere');
  assert.equal(shown.length, 0);
  assert.match(await page.textContent('.queue-page .empty'), /Nothing matches “no-such-thing-anywhere”/);
  await page.reload();
  await page.waitForSelector('.queue-page .empty');
  assert.equal(await page.inputValue('#f-q'), 'no-such-thing-anywhere');
  await page.click('text=Clear filters');
  await page.waitForSelector('#queue-table');
  assert.equal(await page.inputValue('#f-q'), '');

  // Sorting by the first declaration's value (high to low first) and importer (A to Z first).
  const value = Object.fromEntries(all.map((i) => [i.consignment_id, i.declaration.declared_value]));
  await page.goto(`${T.server.base}/#/queue?status=all&limit=100`);
  await page.waitForSelector('#queue-table');
  await page.click('button[data-sort="value"]');
  await page.waitForFunction(() => location.hash.includes('sort=-value'));
  await page.waitForSelector('th:has(button[data-sort="value"])[aria-sort="descending"]');
  let ids = (await queueRows(page)).map((r) => r.id).filter((id) => id in value);
  for (let i = 1; i < ids.length; i++) assert.ok(value[ids[i - 1]] >= value[ids[i]], `value descending at ${ids[i]}`);
  await page.click('button[data-sort="importer"]');
  await page.waitForFunction(() => /sort=importer(&|$)/.test(location.hash));
  await page.waitForSelector('th:has(button[data-sort="importer"])[aria-sort="ascending"]');
  const importers = (await queueRows(page)).map((r) => r.cells.importer).filter((x) => x !== '—');
  assert.deepEqual(importers, [...importers].sort(), 'importer ascending');
  await page.click('button[data-sort="date"]');
  await page.waitForFunction(() => location.hash.includes('sort=-date'));
  await page.waitForSelector('th:has(button[data-sort="date"])[aria-sort="descending"]');
  const dates = (await queueRows(page)).map((r) => r.cells.date);
  assert.deepEqual(dates, [...dates].sort().reverse(), 'date descending');

  // The supervisor's list: what the budget could not take as its score asked is marked, never
  // silently released.
  // Six watch-listed parcels on one lane-day: its red budget (5 %, at least one) takes the first,
  // the next day's takes the second as a carry-over, the rest wait on the supervisor's list.
  const watch = Array.from({ length: 6 }, (_, i) => ({
    declaration_id: `OVR-${i}`, consignment_id: `C-OVR-${i}`, date: '2024-06-03', office_id: 'OVR1',
    importer_id: 'IMP-WATCH', hs_code: '851712', origin_country: 'CN', net_mass_kg: 1.5, declared_value: 120, currency: 'EUR',
  }));
  const posted = await T.feed.post('/api/declarations', { declarations: watch });
  assert.equal(posted.status, 200, posted.text);
  const over = (await T.admin.get('/api/queue?status=all&over_budget=1&limit=1000')).json;
  const overIds = new Set(over.items.map((i) => i.consignment_id));
  assert.ok(!overIds.has('C-OVR-0') && overIds.has('C-OVR-1') && overIds.has('C-OVR-5'), [...overIds].join(','));
  const carried = over.items.find((i) => i.consignment_id === 'C-OVR-1');
  assert.equal(carried.channel, 'red');
  assert.equal(carried.date, '2024-06-04', 'counted against the next day');
  const waiting = over.items.find((i) => i.consignment_id === 'C-OVR-5');
  assert.equal(waiting.status, 'pending');
  assert.match(waiting.selection, /supervisor's list/);
  for (const it of over.items) assert.ok(it.channel === 'red' || it.status !== 'released', `${it.consignment_id} over budget is not released`);
  await page.goto(`${T.server.base}/#/queue?status=all`);
  await page.waitForSelector('#queue-table');
  await page.check('#f-over');
  await page.waitForFunction(() => location.hash.includes('over_budget=1'));
  await page.waitForSelector('#queue-table');
  const overRows = await queueRows(page);
  assert.deepEqual(overRows.map((r) => r.id).sort(), over.items.map((i) => i.consignment_id).sort());
  for (const r of overRows) assert.ok(await page.$(`tr[data-id="${r.id}"] [data-over-budget]`), `${r.id} is marked`);
  await page.goto(`${T.server.base}/#/queue`);
  await page.waitForSelector('#queue-table');
});

test('the live count notices a consignment that arrives while the officer looks at the queue', async () => {
  const { page } = T;
  const before = +(await page.getAttribute('#queue-total', 'data-total'));
  const d = { ...T.inputs.decls[0] };
  const late = {
    declaration_id: 'D-LATE-1', consignment_id: 'C-LATE-1', date: d.date, importer_id: 'IMP-LATE', hs_code: '950300',
    origin_country: 'CN', net_mass_kg: 2.5, declared_value: 3.5, office_id: 'ICN1', mode_of_transport: 'air', currency: 'EUR',
    description: 'Toys',
  };
  const r = await T.feed.post('/api/declarations', late);
  assert.equal(r.status, 201, r.text);
  const pending = r.json.status === 'pending';
  await page.waitForFunction((n) => +document.querySelector('#queue-total')?.dataset.total !== n, before, { timeout: 15000 }).catch(() => {});
  const now = +(await page.getAttribute('#queue-total', 'data-total'));
  if (pending) {
    assert.equal(now, before + 1, 'the count went up without a reload');
    assert.match(await page.textContent('button.refresh'), /1 new/);
    await page.click('button.refresh');
    await page.waitForSelector('#queue-table tr[data-id="C-LATE-1"]');
  } else {
    assert.equal(now, before, `a ${r.json.channel} consignment is not pending`);
  }
});

test('a consignment opens from the queue by keyboard and shows decision, reasons, rule hits, valuation and declaration', async () => {
  const { page } = T;
  // The highest-scored consignment with a scan and a valuation flag when there is one.
  const q = await T.admin.get('/api/queue?status=pending&limit=100');
  const withScan = q.json.items.filter((i) => i.has_scan);
  const target = withScan.find((i) => i.reasons.some((r) => r.source === 'valuation')) || withScan[0];
  assert.ok(target, 'a pending consignment has a scan');
  T.target = target.consignment_id;
  // Keyboard: j moves through the rows' links, Enter opens.
  await page.focus('body');
  const index = (await queueRows(page)).findIndex((r) => r.id === T.target);
  for (let i = 0; i <= index; i++) await page.keyboard.press('j');
  assert.equal(await page.evaluate(() => document.activeElement.textContent), T.target);
  await page.keyboard.press('Enter');
  await page.waitForSelector('#decision-head');
  assert.equal(await page.textContent('h1'), `Consignment ${T.target}`);
  const c = (await T.admin.get(`/api/consignments/${encodeURIComponent(T.target)}`)).json;
  assert.equal(await page.textContent('#score'), c.score.toFixed(3));
  assert.match(await page.textContent('#decision-head'), new RegExp(c.selection.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  const reasons = await page.$$eval('#reasons ol.reasons > li', (lis) => lis.map((li) => ({
    source: li.dataset.source, text: li.querySelector('.reason-text').textContent, weight: li.querySelector('.weight strong').textContent,
  })));
  assert.equal(reasons.length, c.reasons.length, 'every reason is shown');
  c.reasons.forEach((r, i) => {
    assert.equal(reasons[i].text, r.text);
    assert.equal(reasons[i].source, r.source);
    assert.equal(reasons[i].weight, r.weight.toFixed(3));
  });
  const decl = c.declarations[0];
  assert.equal(await page.textContent('.declaration dd[data-field="Importer"]'), decl.importer_id);
  assert.equal(await page.textContent('.declaration dd[data-field="HS code"]'), decl.hs_code);
  assert.match(await page.textContent('#valuation'), /Declared unit price/);
  if (c.reasons.some((r) => r.source === 'valuation')) assert.match(await page.textContent('#valuation .valuation-flags'), /below the reference/);
  await checkAssessment(page, c);
});

// The valuation figures and every rule hit on the consignment page equal what the service
// stored for the consignment (`assessments`, `rule_hits`).
async function checkAssessment(page, c) {
  assert.equal(c.assessments.length, c.declarations.length, 'one assessment per declaration');
  const valuationText = await page.textContent('#valuation');
  for (const a of c.assessments) {
    const v = a.valuation;
    assert.ok(v, `the e2e server values declaration ${a.declaration_id}`);
    const field = (f) => page.textContent(`#valuation .valuation[data-declaration="${a.declaration_id}"] dd[data-field="${f}"]`);
    const per = v.per === 'supplementary unit' ? 'per unit' : 'per kg';
    if (v.declared_unit_price != null) assert.equal(await field('declared'), `${money(v.declared_unit_price, v.currency)} ${per}`);
    if (v.reference_unit_price != null) {
      assert.ok((await field('reference')).startsWith(`${money(v.reference_unit_price, v.currency)} ${per}`));
      assert.equal(await field('ratio'), `${(100 * v.unit_price_ratio).toFixed(0)} %`);
    }
    if (v.revenue_at_risk != null) assert.equal(await field('revenue'), money(v.revenue_at_risk, v.currency));
    assert.ok(v.reason && valuationText.includes(v.reason), `the valuation's reason is shown: ${v.reason}`);
  }
  if (!c.rule_hits.length) {
    assert.match(await page.textContent('#rule-hits'), /No analyst rule/);
    return;
  }
  assert.equal(await page.$$eval('#rule-hits li[data-rule]', (lis) => lis.length), c.rule_hits.length, 'every rule hit is listed');
  for (const h of c.rule_hits) {
    const li = `#rule-hits li[data-rule="${h.rule}"][data-declaration="${h.declaration_id}"]`;
    assert.equal(await page.textContent(`${li} .rule-reason`), h.reason);
    assert.equal(await page.textContent(`${li} .rule-action`), h.action);
    assert.equal(await page.textContent(`${li} .rule-owner`), h.owner || '—');
  }
}

test('the scan viewer loads the raw scan and switches between grayscale, material colour, high and low energy', async () => {
  const { page } = T;
  await page.waitForSelector('[id^="viewer-"][data-ready="true"]', { timeout: 30000 });
  assert.match(await page.textContent('.sv-status'), /raw energies and analysis channels/);
  await accessible('consignment, as loaded');
  const stage = await page.locator('.sv-stage').boundingBox();
  assert.ok(stage.y + stage.height <= 900, `the whole image fits on a 1440x900 screen (bottom at ${stage.y + stage.height})`);
  // Overlays off, so the colours come from the image alone.
  for (const id of ['detections', 'objects', 'reasons']) await page.uncheck(`#sv-ov-${id}`);
  const gray = await canvasStats(page);
  assert.ok(gray.colour < 0.001, `grayscale has no colour (${gray.colour})`);
  await page.check('#sv-view-material');
  assert.equal(await page.getAttribute('.scan-viewer', 'data-view'), 'material');
  const material = await canvasStats(page);
  assert.ok(material.colour > 0.02, `material colour shows colours (${material.colour})`);
  assert.ok(await page.isVisible('.sv-legend'), 'the colour legend is shown with the material view');
  await page.check('#sv-view-high');
  const high = await canvasStats(page);
  await page.check('#sv-view-low');
  const low = await canvasStats(page);
  assert.ok(high.colour < 0.001 && low.colour < 0.001);
  assert.notEqual(high.hash, low.hash, 'the two energies are different images');
  assert.notEqual(high.hash, gray.hash);
  assert.ok(low.mean < high.mean, `the low-energy image is darker (more attenuated): ${low.mean} vs ${high.mean}`);
  // Keyboard shortcuts on the focused image.
  await page.focus('.sv-stage');
  await page.keyboard.press('m');
  assert.equal(await page.isChecked('#sv-view-material'), true);
  await page.keyboard.press('g');
  assert.equal(await page.isChecked('#sv-view-gray'), true);
  T.grayNoOverlay = await canvasStats(page);
});

test('material colours agree with the server: organic pixels orange, metal pixels blue, and the read-out names them', async () => {
  const { page } = T;
  const scanId = (await T.admin.get(`/api/consignments/${encodeURIComponent(T.target)}`)).json.scans[0].scan_id;
  T.scanId = scanId;
  const channel = async (name, T_) => {
    const res = await fetch(`${T.server.base}/api/scans/${scanId}/channels/${name}`, { headers: { Authorization: `Bearer ${T.admin.token}` } });
    assert.equal(res.status, 200);
    return { w: +res.headers.get('X-Width'), data: new T_(await res.arrayBuffer()) };
  };
  const { w, data: mat } = await channel('material', Uint8Array);
  const { data: high } = await channel('high', Uint16Array);
  // A pixel of a class in the middle of a 7x7 block of the same class, thick enough that its
  // colour is saturated (thin material fades to white by design).
  const find = (cls) => {
    for (let y = 3; y < mat.length / w - 3; y++) for (let x = 3; x < w - 3; x++) {
      const att = -Math.log(high[y * w + x] / 65535);
      if (att < 0.5 || att > 3) continue;
      let ok = true;
      for (let dy = -3; dy <= 3 && ok; dy++) for (let dx = -3; dx <= 3 && ok; dx++) ok = mat[(y + dy) * w + x + dx] === cls;
      if (ok) return { x, y };
    }
    return null;
  };
  await page.check('#sv-view-material');
  await page.click('button:has-text("Fit")');
  await page.locator('.sv-stage').scrollIntoViewIfNeeded();
  let checked = 0;
  for (const [cls, name] of [[1, 'organic'], [3, 'metal'], [2, 'inorganic']]) {
    const p = find(cls);
    if (!p) continue;
    const s = await screenOf(page, p.x, p.y);
    await page.mouse.move(s.x, s.y);
    const ro = await readout(page);
    assert.equal(ro.xy, `x ${p.x}, y ${p.y}`);
    assert.equal(ro.material, name);
    const px = await page.evaluate(([x, y]) => {
      const c = document.querySelector('.sv-canvas');
      const r = c.getBoundingClientRect();
      const k = c.width / r.width;
      return [...c.getContext('2d').getImageData(Math.round((x - r.left) * k), Math.round((y - r.top) * k), 1, 1).data];
    }, [s.x, s.y]);
    if (name === 'organic') assert.ok(px[0] > 1.5 * px[2] && px[0] > px[1], `organic is orange: ${px}`);
    if (name === 'metal') assert.ok(px[2] > 1.5 * px[0] && px[2] > px[1], `metal is blue: ${px}`);
    if (name === 'inorganic') assert.ok(px[1] > 1.2 * px[2] && px[1] > 1.2 * px[0], `inorganic is green: ${px}`);
    checked++;
  }
  assert.ok(checked >= 2, `found pixels of at least two classes to check (${checked})`);
  await page.check('#sv-view-gray');
});

test('the pixel read-out equals the server: attenuation at both energies and Z_eff under the cursor', async () => {
  const { page } = T;
  const c = (await T.admin.get(`/api/consignments/${encodeURIComponent(T.target)}`)).json;
  const obj = c.scans[0].analysis.objects[0];
  assert.ok(obj, 'the scan has segmented objects');
  const x = Math.floor((obj.box[0] + obj.box[2]) / 2), y = Math.floor((obj.box[1] + obj.box[3]) / 2);
  const s = await screenOf(page, x, y);
  await page.mouse.move(s.x, s.y);
  const ro = await readout(page);
  assert.equal(ro.xy, `x ${x}, y ${y}`);
  const px = (await T.admin.get(`/api/scans/${T.scanId}/pixel?x=${x}&y=${y}`)).json;
  assert.equal(ro['att-low'], (-Math.log(px.low / 65535)).toFixed(3));
  assert.equal(ro['att-high'], (-Math.log(px.high / 65535)).toFixed(3));
  assert.ok(Math.abs(+ro['att-low'] - px.log_low) < 0.002, `read-out ${ro['att-low']} vs analysis log_low ${px.log_low}`);
  assert.equal(ro.zeff, px.z_eff > 0 ? px.z_eff.toFixed(1) : 'air');
  assert.equal(ro.material, px.material);
  assert.equal(ro.density, px.areal_density_g_cm2 > 0 ? `${px.areal_density_g_cm2.toFixed(2)} g/cm²` : '—');
  // Keyboard probe: shift+arrow moves the read-out by one pixel.
  await page.focus('.sv-stage');
  await page.keyboard.press('Shift+ArrowRight');
  const k1 = await readout(page);
  await page.keyboard.press('Shift+ArrowRight');
  const k2 = await readout(page);
  const [x1] = k1.xy.match(/\d+/g).map(Number);
  const [x2] = k2.xy.match(/\d+/g).map(Number);
  assert.equal(x2, x1 + 1);
});

test('the viewer falls back to the stored TIFF, then to the PNG renderings, with the same read-out', async () => {
  const { page } = T;
  const c = (await T.admin.get(`/api/consignments/${encodeURIComponent(T.target)}`)).json;
  const obj = c.scans[0].analysis.objects[0];
  const x = Math.floor((obj.box[0] + obj.box[2]) / 2), y = Math.floor((obj.box[1] + obj.box[3]) / 2);
  const px = (await T.admin.get(`/api/scans/${T.scanId}/pixel?x=${x}&y=${y}`)).json;
  for (const [source, status] of [['tiff', /TIFF decoded in the browser/], ['png', /8-bit PNG renderings/]]) {
    await page.evaluate((s) => localStorage.setItem('cs-viewer-source', s), source);
    await page.reload();
    await page.waitForSelector('[id^="viewer-"][data-ready="true"]', { timeout: 30000 });
    assert.match(await page.textContent('.sv-status'), status);
    await page.evaluate(() => window.scrollTo(0, 0));
    const s = await screenOf(page, x, y);
    await page.mouse.move(s.x, s.y);
    const ro = await readout(page);
    assert.equal(ro.xy, `x ${x}, y ${y}`);
    const [tl, th] = ro.transmission.split(' / ').map(Number);
    if (source === 'tiff') {
      assert.equal(ro['att-low'], (-Math.log(px.low / 65535)).toFixed(3));
      assert.equal(ro['att-high'], (-Math.log(px.high / 65535)).toFixed(3));
    } else {
      assert.match(ro['att-low'], /from 8-bit rendering/);
      assert.ok(Math.abs(tl - px.transmission_low) <= 1 / 255 + 1e-3, `low ${tl} vs ${px.transmission_low}`);
      assert.ok(Math.abs(th - px.transmission_high) <= 1 / 255 + 1e-3, `high ${th} vs ${px.transmission_high}`);
      await page.check('#sv-view-material');  // from the service's material rendering
      assert.ok((await canvasStats(page)).colour > 0.02);
      await page.check('#sv-view-gray');
    }
  }
  await page.evaluate(() => localStorage.removeItem('cs-viewer-source'));
  await page.reload();
  await page.waitForSelector('[id^="viewer-"][data-ready="true"]', { timeout: 30000 });
  for (const id of ['detections', 'objects', 'reasons']) await page.uncheck(`#sv-ov-${id}`);
});

test('zoom and pan work with wheel, drag and keyboard, and zoom keeps the point under the cursor', async () => {
  const { page } = T;
  const zoomOf = async () => parseInt(await page.textContent('.sv-zoom'), 10);
  await page.click('button:has-text("Fit")');
  await page.evaluate(() => window.scrollTo(0, 0));
  const fit = await zoomOf();
  const box = await page.locator('.sv-stage').boundingBox();
  const cx = box.x + box.width * 0.45, cy = box.y + box.height * 0.5;
  await page.mouse.move(cx, cy);
  const before = (await readout(page)).xy;
  await page.mouse.wheel(0, -400);
  await page.waitForFunction((f) => parseInt(document.querySelector('.sv-zoom').textContent, 10) > f, fit);
  const zoomed = await zoomOf();
  assert.ok(zoomed > fit * 1.5, `wheel zooms in: ${fit} -> ${zoomed}`);
  assert.equal(await page.evaluate(() => window.__clearsightViewer.overviewShown), true, 'zoomed in, the overview shows where we are');
  await page.mouse.move(cx + 1, cy);
  await page.mouse.move(cx, cy);
  // Within a pixel: the browser rounds the wheel event's position, not the pointer's.
  const [bx, by] = before.match(/\d+/g).map(Number);
  const [zx, zy] = (await readout(page)).xy.match(/\d+/g).map(Number);
  assert.ok(Math.abs(zx - bx) <= 1 && Math.abs(zy - by) <= 1, `the image point under the cursor stays put: (${bx},${by}) -> (${zx},${zy})`);
  // Drag pans: the point under the cursor moves with the image.
  await page.mouse.down();
  await page.mouse.move(cx + 120, cy + 60, { steps: 5 });
  await page.mouse.up();
  await page.mouse.move(cx, cy);
  const [ax, ay] = (await readout(page)).xy.match(/\d+/g).map(Number);
  const z = zoomed / 100;
  assert.ok(Math.abs(zx - ax - 120 / z) <= 1.5 && Math.abs(zy - ay - 60 / z) <= 1.5, `panned by the drag: (${zx},${zy}) -> (${ax},${ay}) at zoom ${z}`);
  // Keyboard.
  await page.focus('.sv-stage');
  await page.keyboard.press('0');
  assert.equal(await zoomOf(), fit, '0 fits the image again');
  assert.equal(await page.evaluate(() => window.__clearsightViewer.overviewShown), false, 'the whole image needs no overview');
  await page.keyboard.press('+');
  assert.equal(await zoomOf(), Math.round(fit * 1.25));
  await page.keyboard.press('-');
  assert.ok(Math.abs((await zoomOf()) - fit) <= 1);
  const pan0 = await page.evaluate(() => [window.__clearsightViewer.panX, window.__clearsightViewer.panY]);
  await page.keyboard.press('ArrowRight');
  await page.keyboard.press('ArrowDown');
  const pan1 = await page.evaluate(() => [window.__clearsightViewer.panX, window.__clearsightViewer.panY]);
  assert.ok(pan1[0] > pan0[0] && pan1[1] > pan0[1], 'arrows pan');
  await page.keyboard.press('0');
});

test('window and level change the image from the sliders and by right-drag; Auto restores', async () => {
  const { page } = T;
  const base = await canvasStats(page);
  const w0 = await page.inputValue('#sv-window');
  await page.fill('#sv-level', '0.9');  // fill on a range sets the value and fires input
  await page.dispatchEvent('#sv-level', 'input');
  const bright = await canvasStats(page);
  assert.notEqual(bright.hash, base.hash);
  assert.ok(bright.mean < base.mean, `a higher level darkens: ${base.mean} -> ${bright.mean}`);
  await page.click('.sv-wl button:has-text("Auto")');
  const back = await canvasStats(page);
  assert.equal(back.hash, base.hash, 'Auto restores the automatic window');
  const box = await page.locator('.sv-stage').boundingBox();
  await page.mouse.move(box.x + 200, box.y + 200);
  await page.mouse.down({ button: 'right' });
  await page.mouse.move(box.x + 350, box.y + 260, { steps: 5 });
  await page.mouse.up({ button: 'right' });
  const w1 = await page.inputValue('#sv-window');
  assert.ok(+w1 > +w0, `right-drag sideways widens the window: ${w0} -> ${w1}`);
  assert.notEqual((await canvasStats(page)).hash, base.hash);
  await page.click('.sv-wl button:has-text("Auto")');
});

test('detection, object and reason overlays draw over the image and switch off', async () => {
  const { page } = T;
  await page.check('#sv-view-gray');
  const off = await canvasStats(page);
  await page.check('#sv-ov-objects');
  const objects = await canvasStats(page);
  assert.ok(objects.colour > off.colour, `object outlines add colour (${off.colour} -> ${objects.colour})`);
  // Outlines stay thin at any zoom: at about 5x, a line crossing a row is a run of 1-3 outline
  // pixels, not a band of image pixels blown up 5 times.
  const outlineRuns = () => page.evaluate(() => {
    const c = document.querySelector('.sv-canvas');
    const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const runs = [];
    for (let y = 0; y < c.height; y++) {
      let run = 0;
      for (let x = 0; x <= c.width; x++) {
        const i = (y * c.width + x) * 4;
        const yellow = x < c.width && d[i] > 180 && d[i + 1] > 150 && d[i + 2] < 100;
        if (yellow) run++;
        else if (run) { runs.push(run); run = 0; }
      }
    }
    runs.sort((a, b) => a - b);
    return { n: runs.length, median: runs[Math.floor(runs.length / 2)] || 0, dpr: window.devicePixelRatio };
  });
  await page.evaluate(() => { const v = window.__clearsightViewer; v.resetView(); v.zoomBy(5 / v.zoom); });
  const zoomed = await outlineRuns();
  assert.ok(zoomed.n > 20, `outlines drawn at 5x (${zoomed.n} runs)`);
  assert.ok(zoomed.median <= 3 * zoomed.dpr, `outline runs at 5x: median ${zoomed.median} px`);
  await page.evaluate(() => window.__clearsightViewer.resetView());
  await page.uncheck('#sv-ov-objects');
  assert.equal((await canvasStats(page)).hash, off.hash, 'unchecked, the outlines are gone');
  const c = (await T.admin.get(`/api/consignments/${encodeURIComponent(T.target)}`)).json;
  const marks = c.reasons.filter((r) => r.box).length + (c.scans[0].analysis.detections || []).length;
  await page.check('#sv-ov-reasons');
  await page.check('#sv-ov-detections');
  const more = await canvasStats(page);
  if (marks) assert.notEqual(more.hash, off.hash, 'reason marks and detections are drawn');
  await page.focus('.sv-stage');
  await page.keyboard.press('o');  // some on -> all off
  assert.equal(await page.isChecked('#sv-ov-detections'), false);
  assert.equal((await canvasStats(page)).hash, off.hash);
  await page.keyboard.press('o');  // all on
  assert.equal(await page.isChecked('#sv-ov-objects'), true);
  // The picture for the README: material colours, the pointer on an object, its read-out.
  await page.check('#sv-view-material');
  await page.evaluate(() => window.scrollTo(0, 0));
  const ob = c.scans[0].analysis.objects[0];
  const at = await screenOf(page, Math.floor((ob.box[0] + ob.box[2]) / 2), Math.floor((ob.box[1] + ob.box[3]) / 2));
  await page.mouse.move(at.x, at.y);
  await page.waitForSelector('.sv-readout dd[data-field="zeff"]');
  await page.evaluate(() => document.activeElement?.blur());
  await screenshot('consignment');
  await page.check('#sv-view-gray');
});

test('the outcome form checks its input, records the outcome, and the outcome reaches the database', async () => {
  const { page } = T;
  // This test reads the recorded outcome on the same page: no moving on to the next consignment.
  assert.equal(await page.isChecked('#auto-next'), true, 'moving on is the default');
  await page.uncheck('#auto-next');
  await page.click('#outcome-form button[type=submit]');
  assert.match(await page.textContent('#outcome-message'), /Choose what the inspection found/);
  await page.check('#result-undervaluation');
  assert.equal(await page.isVisible('#corrected-value'), true, 'under-valuation asks for the corrected value');
  await page.click('#outcome-form button[type=submit]');
  assert.match(await page.textContent('#outcome-message'), /corrected value/);
  await page.fill('#corrected-value', '812.50');
  await page.fill('#outcome-notes', 'Invoice shows 812.50; declared far below. e2e');
  await page.click('#outcome-form button[type=submit]');
  await page.waitForSelector('#outcome-message.success');
  assert.match(await page.textContent('#outcome-message'), /Recorded: Under-valuation — outcome #1 by olga\.officer/);
  await page.waitForSelector('#outcome-history li[data-result="undervaluation"]');
  assert.match(await page.textContent('#outcome-history'), /corrected value 812\.50/);
  assert.match(await page.textContent('#decision-head'), /Done/);
  assert.match(await page.textContent('#decision-head'), /Outcome: Under-valuation/);
  // Through the API...
  const c = (await T.admin.get(`/api/consignments/${encodeURIComponent(T.target)}`)).json;
  assert.equal(c.status, 'done');
  assert.equal(c.outcomes.length, 1);
  assert.deepEqual({ ...c.outcomes[0], recorded_at: undefined }, {
    seq: 1, result: 'undervaluation', corrected_value: 812.5, notes: 'Invoice shows 812.50; declared far below. e2e',
    officer: USERS.officer.username, recorded_at: undefined, not_inspected_reason: null, seized_quantity: null,
    seized_unit: null, revenue_recovered: null, revenue_currency: null, attachments: [],
  });
  // ...in the database file itself...
  const db = join(T.tmp.dir, 'clearsight.db');
  const row = execFileSync('sqlite3', ['-readonly', db,
    `SELECT result || '|' || corrected_value || '|' || officer FROM outcomes WHERE consignment_id = '${T.target.replace(/'/g, "''")}'`]).toString().trim();
  assert.equal(row, `undervaluation|812.5|${USERS.officer.username}`);
  // ...and in the audit log, whose hash chain is intact.
  const audit = (await T.admin.get('/api/audit?limit=1000')).json.entries.filter((e) => e.action === 'outcome' && e.subject === T.target);
  assert.equal(audit.length, 1);
  assert.equal(audit[0].actor, USERS.officer.username);
  assert.equal((await T.admin.get('/api/audit/verify')).json.ok, true);
});

test('an outcome records what was seized, the revenue recovered and a photo of the find; not inspected needs a reason', async () => {
  const { page } = T;
  const pending = (await T.admin.get('/api/queue?status=pending&limit=100')).json.items;
  const item = pending.find((i) => i.has_scan && i.consignment_id !== T.target) || pending[0];
  assert.ok(item, 'a pending consignment to work');
  const id = item.consignment_id;
  await page.goto(`${T.server.base}/#/consignment/${encodeURIComponent(id)}`);
  await page.waitForSelector('#outcome-form');
  await page.uncheck('#auto-next');
  // Not inspected: the reason is asked for and required; a finding's fields are not offered.
  await page.check('#result-not_inspected');
  assert.equal(await page.isVisible('#not-inspected-reason'), true);
  assert.equal(await page.isVisible('#seized-quantity'), false);
  await page.click('#outcome-form button[type=submit]');
  assert.match(await page.textContent('#outcome-message'), /Say why the consignment was not inspected/);
  assert.equal((await T.admin.get(`/api/consignments/${encodeURIComponent(id)}`)).json.outcomes.length, 0);
  // A finding: seizure, revenue and photos. A file that is not a JPEG or PNG is refused by its bytes.
  await page.check('#result-cigarettes');
  assert.equal(await page.isVisible('#not-inspected-reason'), false);
  assert.equal(await page.isVisible('#seized-quantity'), true);
  await page.fill('#seized-quantity', '12');
  await page.selectOption('#seized-unit', 'cartons');
  await page.fill('#revenue-recovered', '830.25');
  const currency = item.declaration?.currency || '';
  assert.equal(await page.inputValue('#revenue-currency'), currency, 'the currency of the declaration');
  if (!currency) await page.fill('#revenue-currency', 'EUR');
  const fake = join(T.tmp.dir, 'not-a-photo.jpg');
  writeFileSync(fake, 'GIF89a this is not what it says');
  await page.setInputFiles('#outcome-photos', fake);
  await page.click('#outcome-form button[type=submit]');
  // The photo is checked by its bytes, read asynchronously: wait for the form's answer.
  await page.waitForFunction(() => /not-a-photo\.jpg/.test(document.querySelector('#outcome-message')?.textContent || ''));
  assert.match(await page.textContent('#outcome-message'), /not-a-photo\.jpg is not a JPEG or PNG photo/);
  assert.equal((await T.admin.get(`/api/consignments/${encodeURIComponent(id)}`)).json.outcomes.length, 0, 'nothing recorded');
  // The photo: a JPEG the browser itself makes (a picture of the scan on screen).
  const photo = join(T.tmp.dir, 'find.jpg');
  writeFileSync(photo, await page.screenshot({ type: 'jpeg', quality: 70, clip: { x: 0, y: 0, width: 640, height: 480 } }));
  const bytes = readFileSync(photo);
  const sha = createHash('sha256').update(bytes).digest('hex');
  await page.setInputFiles('#outcome-photos', photo);
  await page.fill('#outcome-notes', 'Twelve cartons behind the side panel. e2e');
  await page.click('#outcome-form button[type=submit]');
  await page.waitForSelector('#outcome-message.success');
  assert.match(await page.textContent('#outcome-message'), /Recorded: Cigarettes \/ tobacco — outcome #1 .* 1 photo attached\./);
  await page.waitForSelector(`#outcome-history li[data-result="cigarettes"] .attachments li[data-sha256="${sha}"] img`);
  const li = '#outcome-history li[data-result="cigarettes"]';
  assert.match(await page.textContent(`${li} [data-field="seized"]`), /seized 12 cartons/);
  assert.match(await page.textContent(`${li} [data-field="revenue"]`), new RegExp(`revenue recovered 830\\.25 ${currency || 'EUR'}`));
  // The thumbnail is the photo, served back by the API with the session cookie.
  await page.waitForFunction((s) => document.querySelector(`li[data-sha256="${s}"] img`)?.naturalWidth === 640, sha);
  await page.locator('.outcome-card').screenshot({ path: join(T.shots, 'outcome.png') });
  await accessible('outcome with a photo');
  // Through the API...
  const c = (await T.admin.get(`/api/consignments/${encodeURIComponent(id)}`)).json;
  assert.equal(c.status, 'done');
  const o = c.outcomes[0];
  assert.deepEqual([o.result, o.seized_quantity, o.seized_unit, o.revenue_recovered, o.revenue_currency],
    ['cigarettes', 12, 'cartons', 830.25, currency || 'EUR']);
  assert.equal(o.attachments.length, 1);
  assert.deepEqual([o.attachments[0].sha256, o.attachments[0].content_type, o.attachments[0].bytes, o.attachments[0].name, o.attachments[0].uploaded_by],
    [sha, 'image/jpeg', bytes.length, 'find.jpg', USERS.officer.username]);
  const served = await T.admin.call('GET', o.attachments[0].url);
  assert.equal(served.status, 200);
  // ...in the database file, and the photo content-addressed in the image directory like scans.
  const db = join(T.tmp.dir, 'clearsight.db');
  const q = (sql) => execFileSync('sqlite3', ['-readonly', db, sql]).toString().trim();
  const key = id.replace(/'/g, "''");
  assert.equal(q(`SELECT result || '|' || seized_quantity || '|' || seized_unit || '|' || revenue_recovered || '|' || revenue_currency FROM outcomes WHERE consignment_id = '${key}'`),
    `cigarettes|12.0|cartons|830.25|${currency || 'EUR'}`);
  assert.equal(q(`SELECT sha256 || '|' || content_type || '|' || bytes FROM outcome_attachments WHERE consignment_id = '${key}'`), `${sha}|image/jpeg|${bytes.length}`);
  assert.deepEqual(readFileSync(join(T.tmp.dir, 'clearsight.db.images', sha.slice(0, 2), sha)), bytes);
  await page.check('#auto-next');  // the default again, for the tests after this one
});

test('a consignment without a scan says so, and a scan that arrives later updates the open page', async () => {
  const { page } = T;
  await page.goto(`${T.server.base}/#/consignment/C-LATE-1`);
  await page.waitForSelector('#no-scan');
  const before = (await T.admin.get('/api/consignments/C-LATE-1')).json;
  assert.equal(before.scans.length, 0);
  // An air parcel through ICN1: the e2e rule matched it; its reason, action and owner are shown.
  const hit = before.rule_hits.find((h) => h.rule === 'icn1 air parcels');
  assert.deepEqual({ ...hit }, { rule: 'icn1 air parcels', reason: 'air parcels through ICN1 are under a targeted check', action: hit.action, owner: 'e2e', declaration_id: 'D-LATE-1' });
  assert.match(await page.textContent('#rule-hits li[data-rule="icn1 air parcels"]'), /air parcels through ICN1 are under a targeted check.*owner e2e/s);
  await checkAssessment(page, before);
  // The integrator uploads a scan for it: format-v1 TIFF as the body, meta in the query.
  const tif = readFileSync(T.inputs.scans[0]);
  const pixelMm = JSON.parse(readFileSync(T.inputs.scans[0].replace(/\.tif$/, '.json'), 'utf8')).pixel_mm;
  const res = await fetch(`${T.server.base}/api/scans?scan_id=S-LATE-1&consignment_id=C-LATE-1&pixel_mm=${pixelMm}`, {
    method: 'POST', headers: { Authorization: `Bearer ${T.feed.token}`, 'Content-Type': 'image/tiff' }, body: tif,
  });
  assert.equal(res.status, 201, await res.text());
  await page.waitForSelector('#decision-updated:not([hidden])', { timeout: 15000 });
  assert.match(await page.textContent('#decision-updated'), new RegExp(`version ${before.version + 1}`));
  await page.click('#decision-updated button');
  await page.waitForSelector('[id="viewer-S-LATE-1"][data-ready="true"]', { timeout: 30000 });
  assert.equal(await page.$('#no-scan'), null);
  // A second scan: the page offers both.
  const form = new FormData();
  form.append('tiff', new Blob([readFileSync(T.inputs.scans[1])]), 'second.tif');
  form.append('sidecar', new Blob([JSON.stringify({ scan_id: 'S-LATE-2', consignment_id: 'C-LATE-1', pixel_mm: pixelMm })]), 'second.json');
  const second = await T.feed.call('POST', '/api/scans', form);
  assert.equal(second.status, 201, second.text);
  await page.waitForSelector('#decision-updated:not([hidden])', { timeout: 15000 });
  await page.click('#decision-updated button');
  await page.waitForSelector('#scan-select');
  assert.deepEqual(await page.$$eval('#scan-select option', (os) => os.map((o) => o.value)), ['S-LATE-1', 'S-LATE-2']);
  await page.waitForSelector('[id="viewer-S-LATE-1"][data-ready="true"]', { timeout: 30000 });
  await page.selectOption('#scan-select', 'S-LATE-2');
  await page.waitForSelector('[id="viewer-S-LATE-2"][data-ready="true"]', { timeout: 30000 });
  assert.equal(await page.$('[id="viewer-S-LATE-1"]'), null, 'one viewer at a time');
});

test('the analyst page shows rule hit rates, the control sample against targeted inspections, and counts per channel', async () => {
  const { page } = T;
  await page.goto(`${T.server.base}/#/analyst`);
  await page.waitForSelector('.error-box');
  assert.match(await page.textContent('.error-box'), /analysts and administrators/, 'an officer is refused');
  await page.click('#logout');
  await page.waitForSelector('#username');
  assert.match(await page.textContent('#flash'), /signed out/);
  await login(page, USERS.analyst);
  assert.equal(await page.isVisible('[data-nav="analyst"]'), true);
  await page.click('[data-nav="analyst"]');
  await page.waitForSelector('#rule-stats');
  const s = (await T.admin.get('/api/stats')).json;
  const rule = s.rules.rules.find((r) => r.name === 'icn1 air parcels');
  assert.ok(rule.hits > 0, 'the e2e rule hit something');
  const cells = await page.$$eval('#rule-stats tr[data-rule="icn1 air parcels"] td', (tds) => tds.map((t) => t.textContent.trim()));
  assert.equal(cells[1], String(rule.hits));
  assert.equal(cells[2], String(rule.with_outcome));
  assert.ok(await page.$('#rule-stats tr[data-rule="never matches"]'), 'a rule without hits is listed too');
  for (const ch of ['red', 'yellow', 'green']) {
    const n = s.channels.filter((c) => c.channel === ch).reduce((a, c) => a + c.decisions, 0);
    assert.equal(await page.textContent(`#channel-stats td[data-count="${ch}"]`), n.toLocaleString('en-GB'));
  }
  const targeted = await page.$$eval('#control-stats tr[data-group="targeted"] td', (tds) => tds.map((t) => t.textContent.trim()));
  assert.equal(targeted[0], String(s.targeted_red.decisions));
  assert.equal(targeted[1], String(s.targeted_red.with_outcome));
  assert.ok(s.targeted_red.with_outcome >= 1, 'the recorded outcome counts for the targeted group');
  assert.match(targeted[3], /100\.0 %|0\.0 %|\d+\.\d %/);
  assert.ok(await page.$('#control-stats tr[data-group="control"]'));
  // The estimate for the consignments not inspected, or why there is none, as the API says.
  const estimate = await page.textContent('#control-estimates');
  if (s.estimates.fraud_rate) assert.match(estimate, /From the control sample/);
  else assert.ok(estimate.includes(s.estimates.reason), `${estimate} / ${s.estimates.reason}`);
  // Hit rate per evidence source, as the service counts it; the one inspected consignment (an
  // under-valuation) counts under the source of its strongest reason.
  assert.match(await page.textContent('#h-sources'), /Hit rate per evidence source/);
  assert.ok(s.sources.length >= 1);
  assert.equal(await page.$$eval('#source-stats tbody tr', (trs) => trs.length), s.sources.length);
  for (const r of s.sources) {
    const src = await page.$$eval(`#source-stats tr[data-source="${r.source}"] td`, (tds) => tds.map((t) => t.textContent.trim()));
    assert.deepEqual([src[0], src[1], src[2], src[5], src[6]],
      [r.with_outcome, r.control, r.confirmed, r.strongest.with_outcome, r.strongest.confirmed].map(String), `source ${r.source}`);
    if (r.with_outcome) assert.ok(src[3].startsWith(`${(100 * r.confirmed / r.with_outcome).toFixed(1)} %`), src[3]);
  }
  const top = (await T.admin.get(`/api/consignments/${encodeURIComponent(T.target)}`)).json.reasons[0].source;
  const strongest = s.sources.find((r) => r.source === top);
  assert.equal(strongest.strongest.with_outcome, 1);
  assert.equal(strongest.strongest.confirmed, 1);
  const topCells = await page.$$eval(`#source-stats tr[data-source="${top}"] td`, (tds) => tds.map((t) => t.textContent.trim()));
  assert.match(topCells[7], /^100\.0 %/);
  // What is loaded, as /api/stats says: this server runs without a threat detector.
  assert.equal(s.detector, null);
  assert.match(await page.textContent('#model-stats'), /Threat detector\s*none loaded/);
  // Hit rates by office, HS chapter and origin, as the API counts them; a group with fewer
  // outcomes than the minimum shows no rate.
  for (const by of ['office', 'hs_chapter', 'origin']) {
    const api = s.groups[by].slice(0, 15);
    const rows = await page.$$eval(`#group-stats table[data-by="${by}"] tbody tr`, (trs) => trs.map((tr) => ({
      group: tr.dataset.group, cells: [...tr.querySelectorAll('td')].map((t) => t.textContent.trim()) })));
    assert.deepEqual(rows.map((r) => r.group), api.map((g) => g.group), `groups by ${by}`);
    rows.forEach((r, i) => {
      assert.equal(r.cells[0], String(api[i].decisions));
      if (api[i].control.hit_rate == null) assert.match(r.cells[1], /too few outcomes|no outcomes/);
    });
  }
  assert.ok(s.groups.office.some((g) => g.targeted.with_outcome > 0), 'an outcome is counted under its office');
  await screenshot('analyst');
});

test('an admin adds a user, changes the role, disables it, sets the capacity and checks the audit log; queue and statistics export as CSV', async () => {
  const { page } = T;
  await page.click('#logout');
  await page.waitForSelector('#username');
  await login(page, USERS.admin);
  assert.equal(await page.isVisible('[data-nav="admin"]'), true, 'the Admin link is for admins');
  await page.click('[data-nav="admin"]');
  await page.waitForSelector('#user-table');
  const listed = (await T.admin.get('/api/users')).json.users.map((u) => u.username).sort();
  assert.deepEqual((await page.$$eval('#user-table tbody tr', (trs) => trs.map((t) => t.dataset.user))).sort(), listed);
  // Add a user; the new user can sign in.
  await page.fill('#u-name', 'nina.new');
  await page.selectOption('#u-role', 'officer');
  await page.fill('#u-pass', 'nina-pass-12345');
  await page.click('#user-form button[type=submit]');
  await page.waitForSelector('#user-table tr[data-user="nina.new"]');
  assert.match(await page.textContent('#users-message'), /Saved nina\.new as officer/);
  const nina = await apiClient(T.server.base, 'nina.new', 'nina-pass-12345');
  assert.equal((await nina.get('/api/me')).json.role, 'officer');
  // Change the role (and the password, which the form always sets).
  await page.click('#user-table tr[data-user="nina.new"] [data-action="edit"]');
  assert.equal(await page.inputValue('#u-name'), 'nina.new');
  await page.selectOption('#u-role', 'analyst');
  await page.fill('#u-pass', 'nina-pass-67890');
  await page.click('#user-form button[type=submit]');
  await page.waitForFunction(() => document.querySelector('#user-table tr[data-user="nina.new"] td')?.textContent === 'analyst');
  assert.equal((await nina.get('/api/me')).status, 401, 'a changed user\'s sessions end');
  // Disable: a confirmation, then no sign-in.
  page.once('dialog', (d) => d.accept());
  await page.click('#user-table tr[data-user="nina.new"] [data-action="disable"]');
  await page.waitForSelector('#user-table tr[data-user="nina.new"][data-disabled="true"]');
  await assert.rejects(apiClient(T.server.base, 'nina.new', 'nina-pass-67890'), /HTTP 40[13]/);
  assert.equal(await page.isDisabled(`#user-table tr[data-user="${USERS.admin.username}"] [data-action="disable"]`), true, 'an admin cannot disable themself');
  // Capacity: the yellow share, saved and in force.
  const before = (await T.admin.get('/api/settings/capacity')).json;
  await page.fill('#cap-yellow', '7');
  await page.click('#capacity-form button[type=submit]');
  await page.waitForSelector('#capacity-message.success');
  const after = (await T.admin.get('/api/settings/capacity')).json;
  assert.equal(after.yellow_share, 0.07);
  assert.equal(after.red_share, before.red_share);
  // The audit log: intact, and it shows what was just done.
  await page.click('#audit-refresh');
  await page.waitForFunction(() => /^Intact/.test(document.querySelector('#audit-verify')?.textContent || ''));
  await page.waitForSelector('#audit-table tr[data-action="capacity"]');
  const actions = await page.$$eval('#audit-table tbody tr', (trs) => trs.map((t) => t.dataset.action));
  for (const a of ['user_created', 'user_updated', 'user_disabled', 'capacity']) assert.ok(actions.includes(a), `audit shows ${a}`);
  await page.screenshot({ path: join(T.shots, 'admin.png'), fullPage: false });

  // The queue as CSV: every consignment of the filters, not only the page shown.
  await page.goto(`${T.server.base}/#/queue?status=all&limit=10`);
  await page.waitForSelector('#queue-table');
  const total = (await T.admin.get('/api/queue?status=all&limit=0')).json.total;
  assert.ok(total > 10, 'more than one page');
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#export-csv')]);
  const csv = readFileSync(await download.path(), 'utf8').trim().split(/\r\n/);
  assert.equal(csv[0].split(',')[0], 'consignment_id');
  assert.equal(csv.length, total + 1, 'a header and one line per consignment');
  // The statistics as CSV, with the rule the analyst page shows.
  await page.goto(`${T.server.base}/#/analyst`);
  await page.waitForSelector('#rule-stats');
  const [stats] = await Promise.all([page.waitForEvent('download'), page.click('#export-rules')]);
  const lines = readFileSync(await stats.path(), 'utf8').trim().split(/\r\n/);
  assert.equal(lines[0], 'group,name,decisions_or_hits,with_outcome,confirmed,hit_rate,ci95_low,ci95_high');
  const rule = (await T.admin.get('/api/stats')).json.rules.rules.find((r) => r.name === 'icn1 air parcels');
  assert.ok(lines.some((l) => l.startsWith(`rule,icn1 air parcels,${rule.hits},`)), lines.join('\n'));
  // Put the capacity back for the tests after this one.
  assert.equal((await T.admin.call('PUT', '/api/settings/capacity', before)).status, 200);
});

test('an analyst drafts a rule, tries it on the stored declarations, confirms an unknown field and activates it', async () => {
  const { page } = T;
  const before = (await T.admin.get('/api/rules')).json;
  await page.click('[data-nav="rules"]');
  await page.waitForSelector('#rules-text');
  assert.equal(await page.inputValue('#rules-text'), before.text, 'the profile in force is the draft to start from');
  assert.match(await page.textContent('#rules-version'), new RegExp(`version ${before.version}\\b`));
  const draft = `${before.text}\nrule "bus2 to red"\n  when office_id = "BUS2"\n  then channel red\n  reason "e2e: every BUS2 parcel"\nend\n\n` +
    'rule "typo"\n  when hs_cod = "851712"\n  then score +0.1\nend\n';
  await page.fill('#rules-text', draft);
  assert.equal(await page.isDisabled('#rules-activate'), true, 'not before it was tried');
  await page.fill('#rules-days', '3660');
  await page.click('#rules-try');
  await page.waitForSelector('#rules-message.success, #rules-message.error');
  assert.match(await page.textContent('#rules-message'), /^Tried on \d+ declarations/);
  await page.waitForSelector('#rules-test-table tr[data-rule="bus2 to red"]');
  // The same counts as the queue has for that office.
  const bus2 = (await T.admin.get('/api/queue?office=BUS2&status=all&limit=1000')).json.items;
  const cells = await page.$$eval('#rules-test-table tr[data-rule="bus2 to red"] td', (tds) => tds.map((t) => t.textContent.trim()));
  assert.equal(cells[2], String(bus2.length), 'consignments hit');
  assert.equal(cells[6], String(bus2.filter((i) => i.channel !== 'red').length), 'newly red');
  assert.equal(await page.isVisible('#rules-unknown'), true);
  assert.match(await page.textContent('#rules-unknown'), /hs_cod \(draft:\d+:\d+\)/);
  // An unknown field must be confirmed before the profile is activated.
  await page.click('#rules-activate');
  assert.match(await page.textContent('#rules-message'), /Confirm the fields/);
  assert.equal((await T.admin.get('/api/rules')).json.version, before.version);
  await page.check('#rules-confirm-fields');
  await page.click('#rules-activate');
  await page.waitForFunction(() => /^Activated as version/.test(document.querySelector('#rules-message')?.textContent || ''));
  const after = (await T.admin.get('/api/rules')).json;
  assert.equal(after.version, before.version + 1);
  assert.ok(after.rules.some((r) => r.name === 'bus2 to red'));
  // Back to the profile the other tests expect.
  const restore = await fetch(`${T.server.base}/api/rules`, { method: 'PUT', headers: { Authorization: `Bearer ${T.admin.token}`, 'Content-Type': 'text/plain' }, body: before.text });
  assert.equal(restore.status, 200);
});

test('the analyst reads the rule history, diffs a version against the one in force and rolls back to it', async () => {
  const { page } = T;
  const before = (await T.admin.get('/api/rules')).json;
  const history = (await T.admin.get('/api/rules/versions')).json;
  assert.equal(history.in_force, before.version);
  // The version the previous test activated (with the BUS2 rule), since replaced.
  const old = history.versions.find((v) => !v.in_force && v.version === before.version - 1);
  assert.ok(old, JSON.stringify(history.versions.slice(0, 3)));
  await page.reload();
  await page.waitForSelector('#rules-versions');
  const rows = await page.$$eval('#rules-versions tbody tr', (trs) => trs.map((t) => ({ v: +t.dataset.version, inForce: t.dataset.inForce === 'true', text: t.textContent })));
  assert.deepEqual(rows.map((r) => r.v), history.versions.map((v) => v.version), 'every stored version, newest first');
  assert.deepEqual(rows.filter((r) => r.inForce).map((r) => r.v), [before.version]);
  for (const v of history.versions) assert.ok(rows.find((r) => r.v === v.version).text.includes(v.author), `v${v.version} by ${v.author}`);
  // The diff against the version in force: the lines of the BUS2 and typo rules are only in the old one.
  await page.click(`#rules-versions tr[data-version="${old.version}"] button[data-action="diff"]`);
  await page.waitForSelector('#rules-diff-table');
  const api = (await T.admin.get(`/api/rules/versions/${old.version}/diff`)).json;
  assert.ok(api.removed >= 10, `${api.removed} lines removed since`);
  assert.equal(await page.$$eval('#rules-diff-table tr[data-op="-"]', (r) => r.length), api.removed);
  assert.equal(await page.$$eval('#rules-diff-table tr[data-op="+"]', (r) => r.length), api.added);
  const removed = await page.$$eval('#rules-diff-table tr[data-op="-"]', (r) => r.map((x) => x.textContent).join('\n'));
  assert.match(removed, /rule "bus2 to red"/);
  assert.match(removed, /hs_cod = "851712"/);
  assert.equal(await page.$('#rules-rollback-confirm'), null, 'a diff alone offers no rollback');
  // Roll back: the old text becomes a new version in force, audited.
  await page.click(`#rules-versions tr[data-version="${old.version}"] button[data-action="rollback"]`);
  await page.waitForSelector('#rules-rollback-confirm');
  assert.match(await page.textContent('#rules-rollback-confirm'), new RegExp(`version ${old.version}'s text as version ${before.version + 1}`));
  await page.screenshot({ path: join(T.shots, 'rules-history.png'), fullPage: true });
  await accessible('rules history');
  await page.click('#rules-rollback-confirm');
  await page.waitForSelector('#rules-history-message.success');
  assert.match(await page.textContent('#rules-history-message'), new RegExp(`version ${before.version + 1} is in force with the text of version ${old.version}`));
  const after = (await T.admin.get('/api/rules')).json;
  assert.equal(after.version, before.version + 1);
  assert.equal(after.restored_from, old.version);
  assert.equal(after.text, (await T.admin.get(`/api/rules/versions/${old.version}`)).json.text);
  assert.ok(after.rules.some((r) => r.name === 'bus2 to red'));
  assert.match(await page.textContent('#rules-version'), new RegExp(`version ${after.version}\\b.*the text of version ${old.version}`));
  assert.equal(await page.inputValue('#rules-text'), after.text, 'the draft starts from the profile now in force');
  await page.waitForSelector(`#rules-versions tr[data-version="${after.version}"][data-in-force="true"]`);
  const audit = (await T.admin.get('/api/audit?limit=1000')).json.entries.filter((e) => e.action === 'rules' && e.subject === `v${after.version}`);
  assert.equal(audit.length, 1);
  assert.equal(audit[0].detail.restored_from, old.version);
  // Back to the profile the other tests expect.
  const restore = await fetch(`${T.server.base}/api/rules`, { method: 'PUT', headers: { Authorization: `Bearer ${T.admin.token}`, 'Content-Type': 'text/plain' }, body: before.text });
  assert.equal(restore.status, 200);
});

test('an officer works the queue by keyboard: a digit chooses, Enter records, the next consignment opens', async () => {
  const { page } = T;
  await page.goto(`${T.server.base}/#/queue?sort=consignment_id`);
  await page.waitForSelector('#queue-table');
  const order = (await T.admin.get('/api/queue?status=pending&sort=consignment_id&limit=100')).json.items.map((i) => i.consignment_id);
  assert.ok(order.length >= 4, `${order.length} pending consignments`);
  await page.focus('body');
  await page.keyboard.press('j');
  await page.keyboard.press('Enter');
  await page.waitForSelector('#outcome-form');
  assert.equal(await page.textContent('h1'), `Consignment ${order[0]}`);
  await page.check('#auto-next');  // the setting, remembered
  // n and p move through the queue without recording; q goes back to it.
  await page.keyboard.press('n');
  await page.waitForFunction((id) => document.querySelector('h1')?.textContent === `Consignment ${id}`, order[1]);
  await page.keyboard.press('p');
  await page.waitForFunction((id) => document.querySelector('h1')?.textContent === `Consignment ${id}`, order[0]);
  // Three consignments worked by keys alone: 1 = nothing found, 7 = mis-declared, Enter records.
  const worked = [];
  for (const key of ['1', '7', '1']) {
    const id = order[worked.length];
    await page.waitForFunction((id) => document.querySelector('h1')?.textContent === `Consignment ${id}` && document.activeElement === document.querySelector('h1'), id);
    await page.keyboard.press(key);
    const chosen = await page.evaluate(() => document.activeElement.value);
    assert.equal(chosen, key === '1' ? 'nothing' : 'misdeclaration');
    await page.keyboard.press('Enter');
    worked.push({ id, result: chosen });
    // Recorded, then the next pending one of the same sort opens and says what was recorded.
    await page.waitForFunction((id) => document.querySelector('h1')?.textContent === `Consignment ${id}`, order[worked.length]);
    await page.waitForSelector('#previous-recorded');
    assert.match(await page.textContent('#previous-recorded'), new RegExp(`^Recorded for ${id.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: (Nothing found|Mis-declared goods) — outcome #1 by `));
  }
  const who = (await page.textContent('#who-name')).trim();
  assert.ok(who);
  for (const w of worked) {
    const c = (await T.admin.get(`/api/consignments/${encodeURIComponent(w.id)}`)).json;
    assert.equal(c.status, 'done', `${w.id} is done`);
    assert.equal(c.outcomes.at(-1).result, w.result);
    assert.equal(c.outcomes.at(-1).officer, who);
  }
  // Keys typed into the note are text, not shortcuts.
  await page.focus('#outcome-notes');
  await page.keyboard.type('n1q');
  assert.equal(await page.inputValue('#outcome-notes'), 'n1q');
  assert.equal(await page.textContent('h1'), `Consignment ${order[3]}`);
  await page.fill('#outcome-notes', '');
  await page.focus('h1');
  await page.keyboard.press('q');
  await page.waitForSelector('#queue-table');
  assert.match(await page.evaluate(() => location.hash), /sort=consignment_id/);
});

test('the queue and the consignment page fit a desk screen, a laptop and a phone', async () => {
  const { page } = T;
  const id = (await T.admin.get('/api/queue?status=pending&limit=1')).json.items[0]?.consignment_id || T.target;
  const fits = () => page.evaluate(() => {
    const wrap = document.querySelector('.table-wrap');
    const table = document.querySelector('#queue-table');
    return { table: table.scrollWidth, box: wrap.clientWidth, doc: document.documentElement.scrollWidth, win: window.innerWidth };
  });
  try {
    for (const [w, h] of [[1440, 900], [1024, 768], [390, 844]]) {
      await page.setViewportSize({ width: w, height: h });
      await page.goto(`${T.server.base}/#/queue?status=all`);
      await page.waitForSelector('#queue-table');
      const f = await fits();
      assert.ok(f.table <= f.box + 1, `at ${w} px the queue table (${f.table} px) fits its box (${f.box} px)`);
      assert.ok(f.doc <= f.win + 1, `at ${w} px nothing scrolls sideways (${f.doc} px)`);
      const out = await page.evaluate(() => document.querySelector('#logout').getBoundingClientRect().toJSON());
      assert.ok(out.right <= w && out.left >= 0 && out.width > 0, `Sign out is on screen at ${w} px`);
      const cols = await page.$$eval('#queue-table tbody tr:first-child [data-col]', (cs) => cs.filter((c) => c.offsetParent !== null).map((c) => c.dataset.col));
      for (const col of ['id', 'importer', 'hs', 'value', 'score', 'channel', 'reason']) assert.ok(cols.includes(col), `${col} shown at ${w} px`);
      if (w === 390) await page.screenshot({ path: join(T.shots, 'queue-phone.png'), fullPage: false });
    }
    // The outcome form and its Record button beside the scan without scrolling.
    for (const [w, h] of [[1440, 900], [1920, 1080]]) {
      await page.setViewportSize({ width: w, height: h });
      await page.goto(`${T.server.base}/#/consignment/${encodeURIComponent(id)}`);
      await page.waitForSelector('#outcome-form button[type=submit]');
      const box = await page.evaluate(() => document.querySelector('#outcome-form button[type=submit]').getBoundingClientRect().toJSON());
      assert.ok(box.bottom <= h, `at ${w}x${h} the Record button (bottom ${Math.round(box.bottom)} px) is on screen`);
      const scan = await page.evaluate(() => document.querySelector('.scan-card').getBoundingClientRect().toJSON());
      assert.ok(box.left >= scan.right, `at ${w} px the form is beside the scan`);
    }
  } finally {
    await page.setViewportSize({ width: 1440, height: 900 });
  }
});

test('postal items posted as EAD XML show their S10 id, category, countries and pieces; the queue names the item', async () => {
  const { page } = T;
  const file = join(T.tmp.dir, 'postal.xml');
  execFileSync(CLI, ['postal-generate', '--out', file, '--items', '12', '--seed', '41', '--invalid-share', '0', '--vague-share', '0'], { stdio: 'pipe' });
  const res = await fetch(`${T.server.base}/api/declarations`, {
    method: 'POST', headers: { Authorization: `Bearer ${T.feed.token}`, 'Content-Type': 'application/xml' }, body: readFileSync(file),
  });
  const answer = await res.json();
  assert.equal(res.status, 200, JSON.stringify(answer).slice(0, 500));
  assert.equal(answer.rejected, 0);
  assert.ok(answer.created > 12, `${answer.created} pieces created`);
  const pieces = new Map();
  for (const r of answer.results) pieces.set(r.consignment_id, [...(pieces.get(r.consignment_id) || []), r.declaration_id]);
  const [id, ids] = [...pieces].sort((a, b) => b[1].length - a[1].length)[0];
  assert.ok(ids.length >= 2, `item ${id} has ${ids.length} pieces`);
  assert.match(id, /^[A-Z]{2}\d{9}[A-Z]{2}$/);
  const stored = (await T.feed.get(`/api/consignments/${encodeURIComponent(id)}`)).json;

  await page.goto(`${T.server.base}/#/consignment/${encodeURIComponent(id)}`);
  await page.waitForSelector('#postal-item');
  const shown = await page.$$eval('#postal-item dd[data-field]', (dds) => Object.fromEntries(dds.map((d) => [d.dataset.field, d.textContent.trim()])));
  const first = stored.declarations[0];
  assert.equal(shown.item_id, id);
  assert.equal(await page.$eval('#h-item', (h) => h.textContent), `Postal item ${id}`);
  assert.ok(first.item_category && shown.item_category.toLowerCase().replace(/ /g, '_') === first.item_category, `${shown.item_category} vs ${first.item_category}`);
  assert.equal(shown.sender_country, first.sender_country);
  assert.equal(shown.addressee_country, first.addressee_country);
  assert.equal(shown.message, 'CUSITM');
  assert.equal(shown.pieces, String(ids.length));
  const rows = await page.$$eval('#pieces tbody tr', (trs) => trs.map((tr) => ({
    id: tr.dataset.declaration, description: tr.querySelector('[data-col=description]').textContent, value: tr.querySelector('[data-col=value]').textContent,
  })));
  assert.deepEqual(rows.map((r) => r.id).sort(), [...ids].sort());
  for (const r of rows) {
    const d = stored.declarations.find((x) => x.declaration_id === r.id);
    assert.equal(r.description, d.description);
    assert.equal(r.value, money(d.declared_value, d.currency));
  }
  await screenshot('postal-item');

  // The queue names the item beside its consignment id.
  await page.goto(`${T.server.base}/#/queue?status=all&q=${encodeURIComponent(id)}`);
  await page.waitForSelector(`#queue-table tbody tr[data-id="${id}"]`);
  const tag = await page.$eval(`#queue-table tbody tr[data-id="${id}"] [data-item-id]`, (s) => ({ item: s.dataset.itemId, text: s.textContent.trim() }));
  assert.equal(tag.item, id);
  assert.equal(tag.text, '✉ S10');
});

test('a trainer signs in and is told the queue is not for that role', async () => {
  const { page } = T;
  await page.click('#logout');
  await page.waitForSelector('#username');
  await page.fill('#username', USERS.trainer.username);
  await page.fill('#password', USERS.trainer.password);
  await page.click('.login-form button[type=submit]');
  await page.waitForSelector('.queue-page, .error-box');
  assert.match(await page.textContent('.error-box'), /your role is trainer/);
  assert.equal(await page.isVisible('[data-nav="queue"]'), false);
  assert.equal(await page.isVisible('[data-nav="analyst"]'), false);
  await page.click('#logout');
  await page.waitForSelector('#username');
  await login(page, USERS.officer);
});

test('the horizon page lists the signals the API finds, with charts, and Draft a rule puts a rule for the series into the rules editor', async () => {
  const { page } = T;
  // Half a year of nine series (HS x origin) at two declarations a day; phones from CN triple
  // from 2025-05-15. Posted last: they fill the queue.
  const since = '2025-05-15';
  const decls = [];
  const day0 = Date.UTC(2025, 0, 1);
  for (let day = 0; day < 181; day++) {
    const date = new Date(day0 + day * 86400000).toISOString().slice(0, 10);
    for (const hs of ['610910', '851712', '940510']) {
      for (const origin of ['TR', 'CN', 'IN']) {
        const n = hs === '851712' && origin === 'CN' && date >= since ? 6 : 2;
        for (let i = 0; i < n; i++) {
          decls.push({ declaration_id: `HZ-${date}-${hs}-${origin}-${i}`, date, importer_id: `HZIMP${(day + i) % 30}`, hs_code: hs,
            origin_country: origin, net_mass_kg: 10 + i, declared_value: 200 + 10 * i, office_id: 'ICN1', currency: 'EUR' });
        }
      }
    }
  }
  const posted = await T.feed.post('/api/declarations', { declarations: decls });
  assert.equal(posted.status, 200, posted.text.slice(0, 500));
  const api = (await T.admin.get(`/api/horizon?since=${since}`)).json;
  assert.ok(api.signals.length >= 1, JSON.stringify(api).slice(0, 500));
  const phones = api.signals.find((s) => s.kind === 'volume_shift' && s.key.origin_country === 'CN' && String(s.key.hs_code).startsWith('85'));
  assert.ok(phones, `no volume shift for phones from CN: ${JSON.stringify(api.signals.map((s) => [s.kind, s.key]))}`);

  await login(page, USERS.analyst);
  assert.equal(await page.isVisible('[data-nav="horizon"]'), true, 'the analyst has the Horizon link');
  await page.goto(`${T.server.base}/#/horizon?since=${since}`);
  await page.waitForSelector('#horizon-signals tbody tr');
  const rows = await page.$$eval('#horizon-signals tbody tr', (trs) => trs.map((tr) => ({
    kind: tr.dataset.kind, series: tr.dataset.series, cells: [...tr.querySelectorAll('td, th')].map((c) => c.textContent.trim()) })));
  const names = { hs_code: 'HS', origin_country: 'from', office_id: 'office', importer_id: 'importer', finding: 'finding' };
  const seriesOf = (s) => Object.entries(s.key).map(([k, v]) => `${names[k]} ${v}`).join(', ');
  assert.deepEqual(rows.map((r) => [r.kind, r.series]), api.signals.map((s) => [s.kind, seriesOf(s)]), 'the signals the API returns, in its order');
  const row = rows.find((r) => r.series === seriesOf(phones));
  assert.equal(row.cells[0], String(phones.rank));
  assert.match(row.cells[3], /^\+[\d,]+ %$/, 'the effect');
  assert.ok(Number(row.cells[4]) <= 0.05, `q-value ${row.cells[4]}`);
  // Its weekly series drawn by Chart.js (served from the machine: vendor/chart.min.js).
  const drawn = await page.$eval(`#horizon-signals tr[data-series="${seriesOf(phones)}"] canvas`, (c) => !!window.Chart?.getChart(c));
  assert.equal(drawn, true, 'a Chart.js chart of the series');
  await screenshot('horizon');

  const before = (await T.admin.get('/api/rules')).json;
  await page.click(`#horizon-signals tr[data-series="${seriesOf(phones)}"] button.draft-rule`);
  await page.waitForSelector('#rules-text');
  const text = await page.inputValue('#rules-text');
  assert.ok(text.startsWith(before.text.trimEnd()), 'appended to the profile in force');
  assert.ok(text.includes(`rule "horizon: volume_shift ${seriesOf(phones)}"`), text);
  assert.ok(text.includes(`hs_code startswith "${phones.key.hs_code}"`) && text.includes('origin_country = "CN"'), text);
  assert.match(await page.textContent('#rules-message'), /draft rule for Volume shift: HS 85\d*, from CN was appended/);
  // Nothing installed; the draft is valid and can be tried as it stands.
  assert.equal((await T.admin.get('/api/rules')).json.version, before.version);
  await page.click('#rules-try');
  await page.waitForSelector('#rules-message.success, #rules-message.error');
  assert.match(await page.textContent('#rules-message'), /^Tried on \d+ declarations/);
  // A reload does not hand the draft over twice.
  await page.reload();
  await page.waitForSelector('#rules-text');
  assert.equal(await page.inputValue('#rules-text'), before.text);
});

test('a trainer builds a training session and assigns it; the officer screens it and gets the truth after each answer; the scores appear', async () => {
  const { page } = T;
  const signIn = async (user) => {
    await page.goto(`${T.server.base}/#/login`);
    if (await page.isVisible('#logout')) { await page.click('#logout'); await page.waitForSelector('#username'); }
    await page.fill('#username', user.username);
    await page.fill('#password', user.password);
    await page.click('.login-form button[type=submit]');
    await page.waitForSelector('#who-name');
    await page.waitForFunction((name) => document.querySelector('#who-name')?.textContent === name, user.username);
  };
  await signIn(USERS.trainer);
  assert.equal(await page.isVisible('[data-nav="training"]'), true, 'trainers have the Training link');
  // A trainer lands on the queue, which is not for trainers, and is pointed to Training.
  await page.waitForSelector('#queue-to-training');
  await page.click('#queue-to-training');
  await page.waitForSelector('#training-form');
  // Three images, two of them with a firearm, a minute each.
  await page.fill('#training-name', 'Firearms, week 1');
  await page.fill('#training-images', '3');
  await page.fill('#training-share', '67');
  await page.fill('#training-time', '60');
  for (const box of await page.$$('.training-classes input[type=checkbox]')) {
    if ((await box.getAttribute('value')) !== 'firearm') await box.uncheck();
  }
  await page.click('#training-build');
  await page.waitForSelector('#training-sessions tr[data-session]');
  const session = await page.getAttribute('#training-sessions tr[data-session]', 'data-session');
  await page.selectOption(`#assign-${session}`, [USERS.officer.username]);
  await page.click(`button.assign[data-session="${session}"]`);
  await page.waitForSelector(`#training-sessions tr[data-session="${session}"] li[data-trainee="${USERS.officer.username}"]`);
  assert.match(await page.textContent(`#training-sessions tr[data-session="${session}"] .assigned`), /0 of 3/);

  // The officer: the assignment, then three images.
  await signIn(USERS.officer);
  assert.equal(await page.isVisible('[data-nav="training"]'), true, 'officers have the Training link');
  await page.goto(`${T.server.base}/#/training`);
  await page.waitForSelector(`#training-assignments tr[data-session="${session}"] a.start`);
  const db = join(T.tmp.dir, 'clearsight.db');
  const outcomes = [];
  let shot = false, threatsSeen = 0;
  for (let i = 0; i < 3; i++) {
    const nextAnswer = page.waitForResponse((r) => r.url().includes('/api/training/sessions/') && r.url().endsWith('/next'));
    if (i === 0) await page.click(`#training-assignments tr[data-session="${session}"] a.start`);
    else await page.keyboard.press('n');
    const next = await (await nextAnswer).json();
    for (const key of ['threat', 'class', 'box', 'truth']) assert.equal(key in next, false, `no ${key} before the answer`);
    await page.waitForSelector('#training-viewer[data-ready="true"]');
    await page.waitForSelector('#training-suspect:not([disabled])');
    assert.match(await page.textContent('#training-countdown'), /^\d+ s left$/);
    // The overlays are off and cannot be switched on.
    assert.equal(await page.isVisible('.sv-overlays'), false);
    assert.deepEqual(await page.evaluate(() => window.__clearsightViewer.overlays), { detections: false, objects: false, reasons: false });
    // The test peeks at the truth in the database; the page has none of it yet.
    const [row, maskJson] = execFileSync('sqlite3', ['-readonly', '-separator', ';', db,
      `SELECT threat || '|' || box_x0 || '|' || box_y0 || '|' || box_x1 || '|' || box_y1, mask_rle FROM training_trials WHERE trial_id = ${Number(next.trial_id)}`]).toString().trim().split(';');
    const [threat, x0, y0, x1, y1] = row.split('|').map(Number);
    const answered = page.waitForResponse((r) => r.url().includes('/api/training/trials/'));
    if (threat && threatsSeen++ === 0) {
      // A click on the threat itself (hits are judged on its mask, not its box): the middle of
      // the mask's longest run.
      const rle = JSON.parse(maskJson);
      let best = 0;
      for (let k = 2; k < rle.length; k += 2) if (rle[k + 1] > rle[best + 1]) best = k;
      const start = rle[best] + Math.floor(rle[best + 1] / 2);
      const width = await page.evaluate(() => window.__clearsightViewer.data.width);
      const p = await screenOf(page, start % width, Math.floor(start / width));
      await page.mouse.click(p.x, p.y);
      await page.keyboard.press('s');
    } else if (threat) {
      // A box dragged around the threat.
      const a = await screenOf(page, Math.max(0, x0 - 2), Math.max(0, y0 - 2));
      const b = await screenOf(page, x1 + 2, y1 + 2);
      await page.mouse.move(a.x, a.y);
      await page.mouse.down();
      await page.mouse.move((a.x + b.x) / 2, (a.y + b.y) / 2, { steps: 3 });
      await page.mouse.move(b.x, b.y, { steps: 3 });
      await page.mouse.up();
      const mark = await page.evaluate(() => window.__clearsightViewer.mark);
      assert.ok(mark && mark.x0 !== undefined, 'a drag draws a box mark');
      assert.ok(mark.x0 <= x0 && mark.y0 <= y0 && mark.x1 >= x1 && mark.y1 >= y1, 'the box holds the threat');
      await page.keyboard.press('s');
    } else {
      await page.keyboard.press('c');
    }
    const r = await (await answered).json();
    outcomes.push(r.outcome);
    await page.waitForSelector('#training-result:not([hidden])');
    assert.equal(await page.getAttribute('#training-result', 'data-outcome'), r.outcome);
    if (threat) {
      assert.equal(r.outcome, 'hit', 'a mark (a point, then a box) on the threat and Suspect is a hit');
      assert.deepEqual(r.truth.box, [x0, y0, x1, y1]);
      assert.match(await page.textContent('#training-result'), /Firearm/);
      assert.match(await page.textContent('#training-result'), /Material colour/);
      assert.deepEqual(await page.evaluate(() => window.__clearsightViewer.truth.box), [x0, y0, x1, y1], 'the projected threat is outlined');
      if (!shot) { await screenshot('training-truth'); shot = true; }
    } else {
      assert.equal(r.outcome, 'correct_rejection');
    }
  }
  assert.deepEqual([...outcomes].sort(), ['correct_rejection', 'hit', 'hit']);
  await page.keyboard.press('n');
  await page.waitForSelector('#training-done #training-progress');
  assert.match(await page.textContent('#training-image-no'), /Session complete: 3 of 3/);
  // Training images never reach the queue.
  const queue = (await T.admin.get('/api/queue?limit=1000')).json;
  assert.equal(queue.items.filter((it) => it.consignment_id.startsWith('training:')).length, 0);

  // The trainer sees the scores the API gives, with the chart.
  await signIn(USERS.trainer);
  await page.goto(`${T.server.base}/#/training`);
  await page.waitForSelector(`#training-progress tr[data-trainee="${USERS.officer.username}"][data-class="firearm"]`);
  const trainer = await apiClient(T.server.base, USERS.trainer.username, USERS.trainer.password);
  const scores = (await trainer.get('/api/training/scores')).json;
  const mine = scores.trainees.find((t) => t.trainee === USERS.officer.username);
  const firearm = mine.classes.find((c) => c.class === 'firearm');
  assert.equal(firearm.hits, 2);
  assert.equal(firearm.signal_trials, 2);
  const row = `#training-progress tr[data-trainee="${USERS.officer.username}"][data-class="firearm"]`;
  assert.equal(await page.textContent(`${row} [data-col="d-prime"]`), firearm.d_prime.toFixed(2));
  assert.equal(await page.textContent(`${row} [data-col="images"]`), '2 / 2');
  assert.match(await page.textContent(`#training-sessions tr[data-session="${session}"] .assigned`), /3 of 3/);
  await page.waitForSelector('#training-chart');
  const csv = await trainer.get('/api/training/results.csv');
  assert.equal(csv.status, 200);
  assert.equal(csv.text.trim().split('\n').length, 4, 'a header and one row per answer');
  await screenshot('training');
  await signIn(USERS.officer);
  await page.goto(`${T.server.base}/#/queue`);
  await page.waitForSelector('#queue-table');
});

test('a trainer finds a recorded inspection in the case library, tags it as teaching material and builds a session of it; the officer screens the real parcel', async () => {
  const { page } = T;
  const signIn = async (user) => {
    await page.goto(`${T.server.base}/#/login`);
    if (await page.isVisible('#logout')) { await page.click('#logout'); await page.waitForSelector('#username'); }
    await page.fill('#username', user.username);
    await page.fill('#password', user.password);
    await page.click('.login-form button[type=submit]');
    await page.waitForFunction((name) => document.querySelector('#who-name')?.textContent === name, user.username);
  };
  // An inspection recorded on a scanned consignment: narcotics, with the officer's note.
  const queue = (await T.admin.get('/api/queue?status=pending&limit=1000')).json;
  const scanned = queue.items.find((it) => it.has_scan);
  assert.ok(scanned, 'a pending consignment with a scan');
  const id = scanned.consignment_id;
  const note = 'E2E: brick of powder under a FALSE bottom';
  const recorded = await T.admin.post(`/api/consignments/${encodeURIComponent(id)}/outcome`, { result: 'narcotics', notes: note });
  assert.equal(recorded.status, 201, recorded.text);

  await signIn(USERS.trainer);
  assert.equal(await page.isVisible('[data-nav="cases"]'), true, 'trainers have the Cases link');
  await page.click('[data-nav="cases"]');
  await page.waitForSelector('#cases-search');
  await page.waitForSelector('#cases-total');
  const all = (await (await apiClient(T.server.base, USERS.trainer.username, USERS.trainer.password)).get('/api/cases?limit=0')).json;
  assert.equal(await page.getAttribute('#cases-total', 'data-total'), String(all.total), 'the count is the API\'s');
  // Search by a word of the note, in another case.
  await page.fill('#cases-q', 'false BOTTOM');
  const searched = page.waitForResponse((r) => r.url().includes('/api/cases?') && r.url().includes('q=false'));
  await page.click('#cases-go');
  await searched;
  await page.waitForFunction(() => document.querySelector('#cases-total')?.dataset.total === '1');
  assert.deepEqual(await page.$$eval('#cases-table tbody tr', (trs) => trs.map((tr) => tr.dataset.case)), [id]);
  await page.click(`#cases-table tr[data-case="${id}"] .case-open`);
  await page.waitForSelector('#case-viewer[data-ready="true"]');
  assert.equal(await page.textContent('#case-note'), note);
  assert.equal(await page.textContent('#case-result'), 'narcotics');
  // Teaching material, tagged; the tags are normalised and searchable.
  await page.check('#case-teaching');
  await page.fill('#case-tags-goods', 'Toys, textiles');
  await page.fill('#case-tags-threat_class', 'Narcotics');
  await page.fill('#case-tags-concealment', 'False  Bottom');
  const saved = page.waitForResponse((r) => r.url().includes('/api/cases/') && r.request().method() === 'PUT');
  await page.click('#case-save');
  assert.equal((await saved).status(), 200);
  await page.waitForSelector(`#cases-table tr[data-case="${id}"] .case-tag[data-kind="concealment"]`);
  assert.match(await page.textContent(`#cases-table tr[data-case="${id}"] [data-col="teaching"]`), /teaching/);
  const stored = (await T.admin.get(`/api/cases/${encodeURIComponent(id)}`)).json;
  assert.equal(stored.teaching, true);
  assert.deepEqual(stored.tags, { goods: ['textiles', 'toys'], threat_class: ['narcotics'], concealment: ['false bottom'] });
  assert.equal(stored.marked_by, USERS.trainer.username);
  const db = join(T.tmp.dir, 'clearsight.db');
  const q = (sql) => execFileSync('sqlite3', ['-readonly', db, sql]).toString().trim();
  assert.equal(q(`SELECT group_concat(kind || ':' || tag, ',') FROM (SELECT kind, tag FROM case_tags WHERE consignment_id = '${id}' ORDER BY kind, tag)`),
    'concealment:false bottom,goods:textiles,goods:toys,threat_class:narcotics');
  // The teaching-only search and the tag search find it, the text search alone no more.
  await page.fill('#cases-q', '');
  await page.fill('#cases-tag', 'FALSE bottom');
  await page.check('#cases-teaching');
  const filtered = page.waitForResponse((r) => r.url().includes('/api/cases?') && r.url().includes('teaching=1') && r.url().includes('tag=FALSE'));
  await page.click('#cases-go');
  const teaching = await (await filtered).json();
  assert.deepEqual(teaching.items.map((c) => c.consignment_id), [id]);
  await page.waitForFunction((want) => document.querySelector('#cases-total')?.dataset.total === '1' &&
    !document.querySelector('#cases-q').value && [...document.querySelectorAll('#cases-table tbody tr')].map((tr) => tr.dataset.case).join() === want, id);
  await page.click(`#cases-table tr[data-case="${id}"] .case-open`);
  await page.waitForSelector('#case-viewer[data-ready="true"]');
  await screenshot('cases');

  // A session of this one case, assigned to the officer.
  await page.check(`#cases-table tr[data-case="${id}"] .case-pick`);
  assert.match(await page.textContent('#case-selection'), new RegExp(`1 case selected: ${id}`));
  await page.fill('#case-session-name', 'Real parcels, week 1');
  await page.fill('#case-session-time', '60');
  await page.waitForSelector(`#case-session-trainees option[value="${USERS.officer.username}"]`, { state: 'attached' });
  await page.selectOption('#case-session-trainees', [USERS.officer.username]);
  const built = page.waitForResponse((r) => r.url().endsWith('/api/training/sessions') && r.request().method() === 'POST');
  await page.click('#case-session-build');
  const session = (await (await built).json());
  assert.deepEqual(session.settings.cases, [id]);
  assert.equal(session.settings.images, 1);
  await page.waitForSelector('#case-session-message a[href="#/training"]');

  // The officer screens the real parcel: the stored scan's bytes, no truth until the answer.
  await signIn(USERS.officer);
  assert.equal(await page.isVisible('[data-nav="cases"]'), false, 'officers, the trainees, have no case library');
  await page.goto(`${T.server.base}/#/training`);
  await page.waitForSelector(`#training-assignments tr[data-session="${session.session_id}"] a.start`);
  const nextAnswer = page.waitForResponse((r) => r.url().includes('/api/training/sessions/') && r.url().endsWith('/next'));
  await page.click(`#training-assignments tr[data-session="${session.session_id}"] a.start`);
  const next = await (await nextAnswer).json();
  const realScanId = stored.scan_list[0].scan_id;
  assert.notEqual(next.scan_id, realScanId, 'a training id, not the real scan\'s');
  await page.waitForSelector('#training-viewer[data-ready="true"]');
  await page.waitForSelector('#training-suspect:not([disabled])');
  const [shown, real] = await Promise.all([T.admin.get(`/api/scans/${next.scan_id}`), T.admin.get(`/api/scans/${encodeURIComponent(realScanId)}`)]);
  assert.equal(shown.json.image_sha256, real.json.image_sha256, 'the real scan, unchanged');
  assert.equal(shown.json.analysis, null, 'without its detections');
  assert.ok(!shown.text.includes(id), 'nothing names the case');
  const [source, x0, y0, x1, y1] = q(`SELECT source, box_x0, box_y0, box_x1, box_y1 FROM training_trials WHERE trial_id = ${Number(next.trial_id)}`).split('|');
  assert.equal(source, `case:${id}`);
  // Suspect with a mark on the detector's box when the finding has one, anywhere when not.
  const boxed = +x1 > +x0;
  const p = await screenOf(page, boxed ? Math.floor((+x0 + +x1) / 2) : 5, boxed ? Math.floor((+y0 + +y1) / 2) : 5);
  await page.mouse.click(p.x, p.y);
  const answered = page.waitForResponse((r) => r.url().includes('/api/training/trials/'));
  await page.keyboard.press('s');
  const r = await (await answered).json();
  assert.equal(r.outcome, 'hit', 'Suspect on a case the inspection confirmed is a hit');
  assert.equal(r.truth.case.consignment_id, id);
  assert.deepEqual(r.truth.box, boxed ? [+x0, +y0, +x1, +y1] : null);
  await page.waitForSelector('#training-result:not([hidden])');
  assert.match(await page.textContent('#training-result'), /A real case: the inspection found narcotics/);
  assert.ok((await page.textContent('#training-result')).includes(note), 'the officer\'s note with the truth');
  await page.goto(`${T.server.base}/#/queue`);
  await page.waitForSelector('#queue-table');
});

test('a session ended on the server sends the officer back to the login page with a message', async () => {
  const { page } = T;
  await page.goto(`${T.server.base}/#/queue`);
  await page.waitForSelector('#queue-table');
  const cookie = (await T.ctx.cookies(T.server.base)).find((c) => c.name === 'cs_session');
  assert.ok(cookie, 'the session is a cookie');
  assert.equal(cookie.httpOnly, true, 'the page script cannot read the session cookie');
  const r = await fetch(`${T.server.base}/api/logout`, { method: 'POST', headers: { Cookie: `cs_session=${cookie.value}` } });
  assert.equal(r.status, 200);
  // The next live-count poll gets a 401.
  await page.waitForSelector('#username', { timeout: 15000 });
  assert.match(page.url(), /#\/login\?expired=1&next=/);
  assert.match(await page.textContent('#flash'), /session has expired or was ended/);
  // Signing in again returns to where the officer was.
  await page.fill('#username', USERS.officer.username);
  await page.fill('#password', USERS.officer.password);
  await page.click('.login-form button[type=submit]');
  await page.waitForSelector('#queue-table');
  assert.match(page.url(), /#\/queue/);
});

test('after a restart with a short session lifetime, the expired session leads to the login page; the outcome is still there', async () => {
  await T.server.stop();
  T.server = await startServer(CLI, T.tmp.dir, { sessionHours: 0.003 });  // 10.8 s
  const { page } = T;
  await login(page, USERS.officer);
  await page.goto(`${T.server.base}/#/consignment/${encodeURIComponent(T.target)}`);
  await page.waitForSelector('#outcome-history li[data-result="undervaluation"]');
  // Idle past the expiry: the page leaves for the login page by itself.
  await page.waitForSelector('#username', { timeout: 30000 });
  assert.match(await page.textContent('#flash'), /session has expired/);
  const api = await fetch(`${T.server.base}/api/queue`, { headers: { Cookie: `cs_session=${(await T.ctx.cookies(T.server.base)).find((c) => c.name === 'cs_session')?.value || 'x'}` } });
  assert.equal(api.status, 401, 'the server agrees the session is over');
});

test('no page error and no request off the machine during the whole run', () => {
  assert.deepEqual(T.errors, []);
});

// ---- Learning from outcomes on the analyst page: rules over time and the model registry ----

test('the analyst page plots each rule week by week as /api/rules/stats counts it, and lists the model registry as /api/models has it, with promote and roll back', async () => {
  // A server with the usual session lifetime (the test before shortened it), on the same store.
  await T.server.stop();
  T.server = await startServer(CLI, T.tmp.dir);
  T.admin = await apiClient(T.server.base, USERS.admin.username, USERS.admin.password);
  T.feed = await apiClient(T.server.base, USERS.feed.username, USERS.feed.password);
  const errorsBefore = T.errors.length;
  // Imported here, not at the top: this block stays apart from the shared imports.
  const { writeFileSync } = await import('node:fs');
  const { ROOT } = await import('./lib/fixture.mjs');
  // A second model version: trained by the CLI and registered as a candidate with a retrain
  // report's control-sample figures as its metrics.
  const model2 = join(T.tmp.dir, 'model-v2');
  execFileSync(CLI, ['model', 'train', '--train', join(ROOT, 'data/public/customs/df_syn_train_eng.csv'), '--out', model2,
    '--trees', '4', '--no-baseline', '--threads', '2'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const metricsFile = join(T.tmp.dir, 'metrics-v2.json');
  writeFileSync(metricsFile, JSON.stringify({ candidate: { control: { rows: 64, frauds: 9,
    auc: { value: 0.81, low: 0.7, high: 0.9 }, precision_at_budget: { value: 0.5, low: 0.3, high: 0.7 } } } }));
  const live = (await T.admin.get('/api/models')).json.live;
  execFileSync(CLI, ['model', 'register', '--db', join(T.tmp.dir, 'clearsight.db'), '--model', model2, '--by', USERS.analyst.username,
    '--parent', String(live), '--metrics', metricsFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const models = (await T.admin.get('/api/models')).json;
  assert.equal(models.models.length, 2, JSON.stringify(models).slice(0, 500));
  const candidate = models.models.find((m) => m.status === 'candidate');

  // Hits of the e2e rule in the newest week, whatever the tests before posted: three air parcels
  // through ICN1 on the newest decision date, two inspected, one confirmed.
  const newest = (await T.admin.get('/api/rules/stats?weeks=1')).json.to;
  const posted = await T.feed.post('/api/declarations', { declarations: [0, 1, 2].map((i) => ({ declaration_id: `LR-AIR-${i}`,
    date: newest, importer_id: 'LRIMP', hs_code: '851712', origin_country: 'CN', net_mass_kg: 3, declared_value: 90,
    office_id: 'ICN1', mode_of_transport: 'air', currency: 'EUR' })) });
  assert.equal(posted.status, 200, posted.text.slice(0, 300));
  for (const [id, result] of [['LR-AIR-0', 'cigarettes'], ['LR-AIR-1', 'nothing']]) {
    const r = await T.admin.post(`/api/consignments/${id}/outcome`, { result });
    assert.equal(r.status, 201, r.text.slice(0, 300));
  }

  const { page } = T;
  await login(page, USERS.analyst);
  await page.goto(`${T.server.base}/#/analyst`);
  await page.waitForSelector('#model-registry tbody tr');
  const registryRows = () => page.$$eval('#model-registry tbody tr', (trs) => trs.map((tr) => ({
    version: +tr.dataset.version, status: tr.dataset.status,
    cells: Object.fromEntries([...tr.querySelectorAll('[data-col]')].map((c) => [c.dataset.col, c.textContent.trim()])) })));
  let rows = await registryRows();
  // One row per version, newest first, with the status, parent and who made it live as the API says.
  assert.deepEqual(rows.map((r) => [r.version, r.status]), [...models.models].reverse().map((m) => [m.version, m.status]));
  for (const m of models.models) {
    const r = rows.find((x) => x.version === m.version);
    assert.equal(r.cells.parent, m.parent_version == null ? '—' : `v${m.parent_version}`);
    assert.ok(r.cells.promoted.startsWith(m.promoted_by || '—'), `${r.cells.promoted} vs ${m.promoted_by}`);
    if (m.training.cutoff) assert.ok(r.cells.training.includes(m.training.cutoff), r.cells.training);
  }
  assert.match(rows.find((r) => r.version === candidate.version).cells.metrics, /AUC 0\.81 \(0\.7–0\.9\), precision at budget 50 % on 64 control outcomes/);

  // Rules over time: the chart of the selected rule holds the API's weekly hits and precision,
  // and the table under it the same numbers.
  await page.waitForSelector('#rule-trend-chart');
  const stats = (await T.admin.get('/api/rules/stats?weeks=12')).json;
  assert.ok(stats.weeks.length === 12 && stats.rules.length >= 1, JSON.stringify(stats).slice(0, 300));
  const rule = stats.rules.find((r) => r.name === 'icn1 air parcels');
  assert.ok(rule, 'the e2e rule is in the rule statistics');
  await page.selectOption('#rule-trend-rule', rule.name);
  await page.waitForSelector('#rule-weeks[data-rule="icn1 air parcels"]');
  const drawn = await page.$eval('#rule-trend-chart', (c) => {
    const chart = window.Chart?.getChart(c);
    return chart && { labels: chart.data.labels, data: Object.fromEntries(chart.data.datasets.map((d) => [d.label, d.data])) };
  });
  assert.ok(drawn, 'a Chart.js chart of the rule');
  assert.deepEqual(drawn.labels, stats.weeks);
  assert.deepEqual(drawn.data.Hits, rule.weeks.map((w) => w.hits));
  assert.deepEqual(drawn.data['Precision (%)'], rule.weeks.map((w) => (w.precision == null ? null : 100 * w.precision)));
  const weekRows = await page.$$eval('#rule-weeks tbody tr', (trs) => trs.map((tr) => [tr.dataset.week,
    ...[...tr.querySelectorAll('td')].slice(0, 3).map((td) => +td.textContent.replace(/,/g, ''))]));
  assert.deepEqual(weekRows, rule.weeks.map((w) => [w.week, w.hits, w.inspected, w.confirmed]));
  const last = rule.weeks[rule.weeks.length - 1];
  assert.ok(last.hits >= 3 && last.inspected >= 2 && last.confirmed >= 1, JSON.stringify(last));
  assert.equal(drawn.data['Precision (%)'].at(-1), 100 * last.precision, 'the newest week has a precision point');
  // Targeted against random: both weekly hit rates and the lift so far, as the API has them.
  const targeting = await page.$eval('#targeting-chart', (c) => {
    const chart = window.Chart?.getChart(c);
    return chart && Object.fromEntries(chart.data.datasets.map((d) => [d.label, d.data]));
  });
  assert.ok(targeting, 'a Chart.js chart of targeted against control');
  const pct = (w) => (w.precision == null ? null : 100 * w.precision);
  assert.deepEqual(targeting['Targeted hit rate (%)'], stats.targeted.weeks.map(pct));
  assert.deepEqual(targeting['Control sample hit rate (%)'], stats.control.weeks.map(pct));
  assert.deepEqual(targeting['Lift so far (×)'], stats.targeted.weeks.map((w) => w.lift_so_far?.value ?? null));
  assert.ok(stats.targeted.weeks.some((w) => w.inspected > 0), 'targeted inspections with outcomes in the window');
  await screenshot('analyst-learning');

  // Promote: nothing happens when the dialog is dismissed; accepted, the candidate is live.
  const promote = `#model-registry .model-promote[data-version="${candidate.version}"]`;
  page.once('dialog', (d) => d.dismiss());
  await page.click(promote);
  await page.waitForTimeout(300);
  assert.equal((await T.admin.get('/api/models')).json.live, live, 'dismissed: nothing changed');
  page.once('dialog', (d) => { assert.match(d.message(), new RegExp(`Make model version ${candidate.version} live`)); d.accept(); });
  await page.click(promote);
  await page.waitForSelector(`#model-registry tr[data-version="${candidate.version}"][data-status="live"]`);
  let now = (await T.admin.get('/api/models')).json;
  assert.equal(now.live, candidate.version);
  assert.equal(now.serving, candidate.version, 'swapped into the running service');
  assert.equal(now.models.find((m) => m.version === candidate.version).promoted_by, USERS.analyst.username);
  rows = await registryRows();
  assert.deepEqual(rows.map((r) => [r.version, r.status]), [...now.models].reverse().map((m) => [m.version, m.status]));
  assert.match(await page.textContent('#model-registry-message'), new RegExp(`version ${candidate.version} is live`));
  // Roll back: the candidate is rejected, the earlier version live again.
  page.once('dialog', (d) => d.accept());
  await page.click(`#model-registry .model-rollback[data-version="${candidate.version}"]`);
  await page.waitForSelector(`#model-registry tr[data-version="${candidate.version}"][data-status="rejected"]`);
  now = (await T.admin.get('/api/models')).json;
  assert.equal(now.live, live);
  assert.equal(now.models.find((m) => m.version === candidate.version).status, 'rejected');
  assert.equal(await page.$(promote), null, 'a rejected version has no promote button');
  const audit = [];  // the whole log, page by page
  for (let after = 0; ;) {
    const p = (await T.admin.get(`/api/audit?limit=1000&after=${after}`)).json;
    if (!p.entries.length) break;
    audit.push(...p.entries.filter((e) => e.actor === USERS.analyst.username));
    after = p.next_after;
  }
  assert.ok(audit.some((e) => e.action === 'model_promoted') && audit.some((e) => e.action === 'model_rolled_back'), 'both audited');
  assert.deepEqual(T.errors.slice(errorsBefore), [], 'no page error and no request off the machine');
});
