// dashboard.test.js -- the coordinator's dashboard in headless Chromium
// (Debian's /usr/bin/chromium, driven by playwright-core), against the live
// stack tests/integration/test_dashboard.sh starts and fills. Numbers on the
// page are checked against Redis (redis-cli) and SQLite (sqlite3).
//
// Environment: FQ_DASH_URL, FQ_DASH_TOKEN, FQ_REDIS_PORT, FQ_DB, FQ_SHOTS
// (the screenshots' directory), CHROMIUM (default /usr/bin/chromium).
'use strict';

const test = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const path = require('node:path');
const { chromium } = require('playwright-core');

const BASE = need('FQ_DASH_URL');
const TOKEN = need('FQ_DASH_TOKEN');
const SHOTS = need('FQ_SHOTS');
const DB = need('FQ_DB');
const REDIS_PORT = need('FQ_REDIS_PORT');

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run tests/integration/test_dashboard.sh`);
  return v;
}

function redis(...args) {
  return execFileSync('redis-cli', ['-p', REDIS_PORT, ...args], { encoding: 'utf8' }).trim();
}

function sql(query) {
  return execFileSync('sqlite3', ['-batch', '-noheader', DB, query], { encoding: 'utf8' }).trim();
}

function sqlRows(query) {
  const out = sql(query);
  return out === '' ? [] : out.split('\n');
}

// As app.js shows money.
function usd(v) {
  const n = Number(v);
  return '$' + (n >= 1 ? n.toFixed(2) : n.toFixed(4));
}

// Polls fn until it returns a value equal to want() (both re-read each
// time), then asserts the last pair: a page that refreshes and a fleet
// that moves agree within the time given, or the test fails showing both.
async function settle(fn, want, what, ms = 10000) {
  const end = Date.now() + ms;
  let got, expected;
  for (;;) {
    got = await fn();
    expected = await want();
    if (JSON.stringify(got) === JSON.stringify(expected) || Date.now() > end) break;
    await new Promise(r => setTimeout(r, 250));
  }
  assert.deepEqual(got, expected, what);
}

let browser, context, page;
const dialogs = [];

test.before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || '/usr/bin/chromium' });
  context = await browser.newContext({ viewport: { width: 1360, height: 900 } });
  page = await context.newPage();
  page.on('dialog', d => { dialogs.push(d.message()); d.dismiss(); });
});

test.after(async () => {
  if (browser) await browser.close();
});

test('without the token: the login page, 401 from the API', async () => {
  const anon = await browser.newContext();
  const p = await anon.newPage();
  await p.goto(BASE + '/tasks');
  assert.equal(new URL(p.url()).pathname, '/login', 'a page without a session goes to /login');
  let r = await anon.request.get(BASE + '/api/overview');
  assert.equal(r.status(), 401, '/api/overview without a token');
  assert.match(r.headers()['www-authenticate'] || '', /Bearer/);
  r = await anon.request.get(BASE + '/api/tasks', { headers: { Authorization: 'Bearer ' + TOKEN.slice(0, -1) + 'x' } });
  assert.equal(r.status(), 401, 'a wrong bearer token');
  r = await anon.request.post(BASE + '/api/requeue?id=dl-3');
  assert.equal(r.status(), 401, 'an action without a token');
  await p.fill('#token', 'not-the-token-at-all');
  await p.click('button[type=submit]');
  await p.waitForSelector('p.error');
  assert.match(await p.textContent('p.error'), /not the dashboard's token/);
  await p.screenshot({ path: path.join(SHOTS, 'login.png') });
  r = await anon.request.get(BASE + '/api/overview', { headers: { Authorization: 'Bearer ' + TOKEN } });
  assert.equal(r.status(), 200, 'the bearer token opens the API');
  const doc = await r.json();
  assert.ok(doc.fleet && doc.minutes.length === 60, 'the overview document');
  assert.ok(!JSON.stringify(doc).includes(TOKEN), 'the token is in no answer');
  await anon.close();
});

test('log in: an HttpOnly, SameSite=Strict session and a strict CSP', async () => {
  const res = await page.goto(BASE + '/login');
  await page.fill('#token', TOKEN);
  await Promise.all([page.waitForURL(BASE + '/'), page.click('button[type=submit]')]);
  const cookie = (await context.cookies()).find(c => c.name === 'fleetq_session');
  assert.ok(cookie, 'a session cookie');
  assert.equal(cookie.httpOnly, true);
  assert.equal(cookie.sameSite, 'Strict');
  assert.ok(!cookie.value.includes(TOKEN) && cookie.value.length === 64, 'the cookie is not the token');
  assert.equal(await page.evaluate(() => document.cookie), '', 'scripts cannot read the session');
  const csp = res.headers()['content-security-policy'];
  assert.match(csp, /default-src 'none'/);
  assert.match(csp, /script-src 'self'/);
  assert.ok(!/unsafe-inline|unsafe-eval/.test(csp), 'no unsafe sources: ' + csp);
});

test('overview: the numbers are those of Redis and SQLite', async () => {
  await page.goto(BASE + '/');
  await page.waitForSelector('#roles');
  const cellOf = (role, col) => page.textContent(`#roles tr[data-role="${role}"] td[data-col="${col}"]`);
  for (const role of ['ceo', 'code', 'quality', 'memory'])
    await settle(() => cellOf(role, 'queued'), () => redis('ZCARD', `fleetq:{q}:ready:${role}`), `${role} queued`);
  assert.equal(await cellOf('memory', 'queued'), '4', 'the four memory tasks wait');
  await settle(() => cellOf('ceo', 'delayed'), () => redis('ZCARD', 'fleetq:{q}:delayed'), 'ceo delayed');
  assert.equal(await cellOf('ceo', 'delayed'), '2');
  await settle(() => cellOf('code', 'workers'), () => '1', 'one live code worker');
  await settle(() => page.textContent('[data-field="dead"] .value'), () => redis('ZCARD', 'fleetq:{q}:dead'), 'dead letters');
  await settle(() => page.textContent('[data-field="spent"] .value'),
    () => usd(Number(redis('HGET', 'fleetq:quota', 'budget_spent_ticks')) / 1e10), 'spent today');
  const firstMinute = await page.evaluate(() => fetch('/api/overview').then(r => r.json()).then(o => o.minutes[0]));
  await settle(() => page.getAttribute('svg[data-chart="Tasks ended per minute"]', 'data-total'),
    () => sql(`SELECT count(*) FROM tasks WHERE finished_at >= '${firstMinute}'`), 'tasks ended in the last hour');
  await settle(() => page.getAttribute('svg[data-chart="Calls and 429s per minute"]', 'data-total'),
    () => sql(`SELECT count(*) FROM attempts WHERE started_at >= '${firstMinute}' AND outcome <> 'cached'`), 'calls in the last hour');
  const model = sql("SELECT model FROM attempts GROUP BY model ORDER BY count(*) DESC LIMIT 1");
  await settle(() => page.textContent(`#models tr[data-model="${model}"] td[data-col="calls"]`),
    () => sql(`SELECT count(*) FROM attempts WHERE model = '${model}' AND outcome <> 'cached'`), `${model}'s calls`);
  // it refreshes itself: a new task shows without a reload
  const before = await page.textContent('#updated');
  redis('XADD', 'fleetq:submit', '*', 'id', 'mem-5', 'role', 'memory', 'prompt', 'index 5');
  await settle(() => cellOf('memory', 'queued'), () => '5', 'the overview refreshed itself');
  assert.notEqual(await page.textContent('#updated'), before);
  await page.screenshot({ path: path.join(SHOTS, 'overview.png'), fullPage: true });
});

test('tasks: the newest, filters and search', async () => {
  await page.click('nav a[data-view="tasks"]');
  await page.waitForSelector('#tasks');
  const ids = () => page.$$eval('#tasks tbody tr', rows => rows.map(r => r.dataset.id));
  assert.deepEqual(await ids(), sqlRows('SELECT id FROM tasks ORDER BY finished_at DESC, id LIMIT 50'), 'the newest tasks');
  await page.screenshot({ path: path.join(SHOTS, 'tasks.png'), fullPage: true });

  await page.selectOption('select[name=status]', 'failed');
  await page.click('#filters button[type=submit]');
  await page.waitForURL(/status=failed/);
  await settle(ids, () => sqlRows("SELECT id FROM tasks WHERE status = 'failed' ORDER BY finished_at DESC, id"), 'status failed');
  assert.equal((await ids()).length, 3);

  await page.selectOption('select[name=status]', '');
  await page.selectOption('select[name=role]', 'quality');
  await page.click('#filters button[type=submit]');
  await page.waitForURL(/role=quality/);
  await settle(ids, () => sqlRows("SELECT id FROM tasks WHERE role = 'quality' ORDER BY finished_at DESC, id"), 'role quality');

  await page.selectOption('select[name=role]', '');
  await page.fill('input[name=q]', 'zebra');
  await page.click('#filters button[type=submit]');
  await page.waitForURL(/q=zebra/);
  await settle(async () => (await ids()).sort(), () => sqlRows("SELECT id FROM tasks WHERE prompt LIKE '%zebra%' ORDER BY id"), 'search zebra');
  assert.equal((await ids()).length, 3);

  await page.fill('input[name=q]', '');
  await page.fill('input[name=flow]', 'flow-a');
  await page.click('#filters button[type=submit]');
  await settle(async () => (await ids()).sort(), () => ['flow-a', 'flow-b', 'flow-c'], 'flow filter');
});

test('a task: prompt, output, attempts and flow', async () => {
  await page.goto(BASE + '/tasks');
  await page.waitForSelector('#tasks a[href="/task?id=t-4"]');
  await page.click('#tasks a[href="/task?id=t-4"]');
  await page.waitForSelector('#prompt');
  assert.equal(await page.textContent('#prompt'), sql("SELECT prompt FROM tasks WHERE id = 't-4'"));
  assert.equal(await page.textContent('#output'), sql("SELECT output FROM tasks WHERE id = 't-4'"));
  assert.equal(await page.$$eval('#attempts tbody tr', r => r.length),
    Number(sql("SELECT count(*) FROM attempts WHERE task_id = 't-4'")), 'one row per attempt');
  assert.equal(await page.textContent('[data-field="cost"]'), usd(sql("SELECT cost_ticks / 1e10 FROM tasks WHERE id = 't-4'")));
  await page.screenshot({ path: path.join(SHOTS, 'task.png'), fullPage: true });

  await page.goto(BASE + '/task?id=flow-c');
  await page.waitForSelector('#flow-tree');
  // flow-c waits for flow-b, which waits for flow-a: a chain in the tree
  assert.equal(await page.$$eval('#flow-tree li[data-id="flow-a"] li[data-id="flow-b"] li[data-id="flow-c"]', l => l.length), 1);
});

test('a prompt holding <script> is shown as text and never runs', async () => {
  await page.goto(BASE + '/task?id=xss');
  await page.waitForSelector('#prompt');
  assert.match(await page.textContent('#prompt'), /^<script>window.__fleetq_xss = 1<\/script><img src=x onerror=/);
  assert.equal(await page.$$eval('#view script, #view img', e => e.length), 0, 'no element was made of it');
  await page.goto(BASE + '/tasks?q=shown');
  await page.waitForSelector('#tasks tbody tr[data-id="xss"]');
  assert.match(await page.textContent('#tasks tbody tr[data-id="xss"]'), /<script>/);
  assert.equal(await page.evaluate(() => window.__fleetq_xss), undefined, 'the injected script never ran');
  assert.deepEqual(dialogs, []);
});

test('actions need the CSRF token', async () => {
  const status = (headers) => page.evaluate(h => fetch('/api/requeue?id=dl-3', { method: 'POST', headers: h }).then(r => r.status), headers);
  assert.equal(await status({}), 403, 'a POST without X-CSRF-Token');
  assert.equal(await status({ 'X-CSRF-Token': 'f'.repeat(64) }), 403, 'a wrong X-CSRF-Token');
  assert.equal(await page.evaluate(() => fetch('/api/requeue?id=dl-3').then(r => r.status)), 405, 'an action by GET');
  assert.equal(sql("SELECT status FROM tasks WHERE id = 'dl-3'"), 'failed', 'nothing was requeued');
  assert.equal(redis('HGET', 'fleetq:task:dl-3', 'status'), 'failed');
});

test('dead letters: requeue one and see it finish, cancel another', async () => {
  await page.click('nav a[data-view="dead"]');
  await page.waitForSelector('#dead');
  const ids = () => page.$$eval('#dead tbody tr', rows => rows.map(r => r.dataset.id));
  assert.deepEqual(await ids(), redis('ZREVRANGE', 'fleetq:{q}:dead', '0', '-1').split('\n'), 'the dead letters, newest first');
  assert.equal(await page.textContent('#dead-total'), `(${redis('ZCARD', 'fleetq:{q}:dead')})`);
  await page.screenshot({ path: path.join(SHOTS, 'dead.png'), fullPage: true });

  await page.click('#dead tr[data-id="dl-1"] button.requeue');
  await page.waitForSelector('#dead tr[data-id="dl-1"]', { state: 'detached' });
  assert.match(await page.textContent('#notice'), /requeue dl-1: requeued/);
  await page.click('#dead tr[data-id="dl-2"] button.cancel');
  await page.waitForSelector('#dead tr[data-id="dl-2"]', { state: 'detached' });
  assert.match(await page.textContent('#notice'), /cancel dl-2: cancelled/);

  await settle(() => sql("SELECT status FROM tasks WHERE id = 'dl-1'"), () => 'done', 'the requeued task finished', 20000);
  await page.goto(BASE + '/task?id=dl-1');
  await page.waitForSelector('#attempts');
  assert.equal(await page.textContent('[data-field="status"]'), 'done');
  assert.deepEqual(await page.$$eval('#attempts tbody tr', r => r.map(x => x.dataset.n)), ['1', '2'], 'its failed attempt and the one that worked');
  await settle(() => sql("SELECT status FROM tasks WHERE id = 'dl-2'"), () => 'cancelled', 'the cancelled dead letter');
  assert.equal(redis('ZSCORE', 'fleetq:{q}:dead', 'dl-2'), '', 'dl-2 left the dead letters');
});

test('a task still in Redis: shown, and cancelled from its page', async () => {
  await page.goto(BASE + '/task?id=mem-1');
  await page.waitForSelector('#cancel');
  assert.equal(await page.textContent('[data-field="status"]'), 'queued');
  assert.equal(await page.textContent('[data-field="stored"]'), 'not yet (still in Redis)');
  assert.equal(await page.textContent('#prompt'), 'index 1');
  await page.click('#cancel');
  await page.waitForSelector('#notice:not([hidden])');
  assert.match(await page.textContent('#notice'), /cancel mem-1: cancelled/);
  await settle(() => sql("SELECT status FROM tasks WHERE id = 'mem-1'"), () => 'cancelled', 'mem-1 cancelled');
  assert.equal(redis('ZSCORE', 'fleetq:{q}:ready:memory', 'mem-1'), '', 'mem-1 left its queue');
});

test('a paused fleet: the banner says why, and Resume lifts it', async () => {
  redis('HSET', 'fleetq:quota', 'paused', 'no_credits', 'pause_reason', 'HTTP 402 the credits are spent');
  await page.goto(BASE + '/');
  await page.waitForSelector('#paused');
  assert.match(await page.textContent('#paused'), /no_credits.*HTTP 402 the credits are spent/);
  await page.click('#paused button');
  await page.waitForSelector('#paused', { state: 'detached' });
  assert.equal(redis('HGET', 'fleetq:quota', 'paused'), '', 'the pause is lifted');
  assert.ok(Number(redis('HGET', 'fleetq:quota', 'resumed_at_ms')) > 0, 'as fleetqctl resume lifts it');
});

test('flows: the tree with statuses and costs', async () => {
  await page.click('nav a[data-view="flows"]');
  await page.waitForSelector('#flows');
  assert.deepEqual(await page.$$eval('#flows tbody tr', r => r.map(x => x.dataset.id)),
    sqlRows('SELECT flow_id FROM flows WHERE tasks > 1 ORDER BY submitted_at DESC'));
  await page.screenshot({ path: path.join(SHOTS, 'flows.png'), fullPage: true });
  await page.click('#flows a[href="/flow?id=flow-a"]');
  await page.waitForSelector('#flow-tree');
  assert.equal(await page.textContent('[data-field="cost"]'), usd(sql("SELECT cost_usd FROM flows WHERE flow_id = 'flow-a'")));
  assert.equal(await page.$$eval('#flow-tree li', l => l.length), 3);
  assert.equal(await page.$$eval('#flow-tree .status.done', l => l.length), 3, 'each task done');
  await page.screenshot({ path: path.join(SHOTS, 'flow.png'), fullPage: true });
});

test('log out ends the session', async () => {
  await page.click('#logout');
  await page.waitForURL(BASE + '/login');
  const r = await page.evaluate(() => fetch('/api/overview').then(x => x.status));
  assert.equal(r, 401, 'the old cookie opens nothing');
});
