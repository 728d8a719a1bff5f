// app.js -- the dashboard's views (Overview, Tasks, a task, Dead letters,
// Flows, a flow), drawn from the coordinator's /api.
//
// Every piece of data goes into the page as text (textContent, attribute
// values), never as markup, so a prompt holding <script> is shown and
// never run; the Content-Security-Policy would refuse it anyway. Actions
// are POSTs carrying the session's CSRF token. The overview refreshes
// itself every REFRESH_MS without reloading the page.
'use strict';

const REFRESH_MS = 3000;
const SVG = 'http://www.w3.org/2000/svg';
const ROLES = ['ceo', 'code', 'quality', 'memory'];
const STATUSES = ['done', 'failed', 'rejected', 'expired', 'cancelled'];
let session = { auth: null, csrf: null };
let timer = null;

// ---- small helpers ---------------------------------------------------------

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'text') e.textContent = String(v);
    else if (k.startsWith('on')) e.addEventListener(k.slice(2), v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === null || c === undefined) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

function svg(tag, attrs, ...children) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return e;
}

function usd(v) {
  if (v === null || v === undefined) return '–';
  const n = Number(v);
  return '$' + (n >= 1 ? n.toFixed(2) : n.toFixed(4));
}

function num(v) { return v === null || v === undefined ? '–' : String(v); }

function ms(v) { return v === null || v === undefined ? '–' : Number(v) + ' ms'; }

function when(t) { return t ? String(t).replace('T', ' ').replace(/\.\d+Z$/, 'Z') : '–'; }

function statusBadge(s) { return el('span', { class: 'status ' + (s || ''), text: s || '–' }); }

function taskLink(id) { return el('a', { href: '/task?id=' + encodeURIComponent(id), text: id }); }

function flowLink(id) { return el('a', { href: '/flow?id=' + encodeURIComponent(id), text: id }); }

function table(headers, rows, opts) {
  const t = el('table', opts || {});
  const tr = el('tr');
  for (const h of headers) tr.append(el('th', { class: h.num ? 'num' : null, text: h.label }));
  t.append(el('thead', {}, tr));
  const body = el('tbody');
  for (const r of rows) body.append(r);
  t.append(body);
  return t;
}

// A table cell; one of class 'text' is cut to a line, its whole text in its title.
function cell(v, cls, attrs) {
  const extra = cls === 'text' && !(v instanceof Node) ? { title: String(v) } : {};
  return el('td', Object.assign({ class: cls || null }, extra, attrs || {}), v instanceof Node ? v : String(v));
}

function notice(text, isError) {
  const n = document.getElementById('notice');
  n.textContent = text;
  n.className = isError ? 'error' : '';
  n.hidden = !text;
}

async function api(path, opts) {
  const res = await fetch(path, Object.assign({ credentials: 'same-origin' }, opts || {}));
  if (res.status === 401) { location.href = '/login'; throw new Error('not logged in'); }
  let body = null;
  try { body = await res.json(); } catch (e) { body = { error: 'HTTP ' + res.status }; }
  if (!res.ok) throw new Error(body && body.error ? body.error : 'HTTP ' + res.status);
  return body;
}

async function act(path, what) {
  const headers = {};
  if (session.csrf) headers['X-CSRF-Token'] = session.csrf;
  const r = await api(path, { method: 'POST', headers });
  notice(what + ': ' + (r.outcome || 'done'));
  return r;
}

function params() { return new URLSearchParams(location.search); }

// ---- charts (plain SVG) ------------------------------------------------------

// Bars per minute; series stacked in the order given. labels: "YYYY-MM-DDTHH:MM".
function barChart(title, labels, series, format) {
  const W = 600, H = 150, L = 40, B = 18, T = 8;
  const n = labels.length;
  const totals = labels.map((_, i) => series.reduce((s, x) => s + (x.values[i] || 0), 0));
  const max = Math.max(1e-9, ...totals);
  const root = svg('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': title,
                            'data-chart': title, 'data-total': String(totals.reduce((a, b) => a + b, 0)) });
  const bw = (W - L) / n;
  root.append(svg('line', { class: 'axis', x1: L, y1: H - B, x2: W, y2: H - B }));
  root.append(svg('text', { x: L - 4, y: T + 8, 'text-anchor': 'end' }, format(max)));
  root.append(svg('text', { x: L - 4, y: H - B, 'text-anchor': 'end' }, format(0)));
  for (let i = 0; i < n; i += 15)
    root.append(svg('text', { x: L + i * bw, y: H - 4 }, labels[i].slice(11)));
  for (let i = 0; i < n; i++) {
    let y = H - B;
    for (const s of series) {
      const v = s.values[i] || 0;
      if (v <= 0) continue;
      const h = (H - B - T) * v / max;
      y -= h;
      root.append(svg('rect', { class: 's-' + s.cls, x: L + i * bw + 1, y: y, width: Math.max(1, bw - 2), height: h },
        svg('title', {}, `${labels[i].slice(11)} ${s.name}: ${format(v)}`)));
    }
  }
  const legend = el('div', { class: 'legend' });
  for (const s of series) legend.append(el('span', {}, el('i', { class: 's-' + s.cls }), s.name));
  return el('div', { class: 'chart' }, el('h3', { text: title }), root, legend);
}

// ---- Overview ---------------------------------------------------------------

function card(label, value, extra, attrs) {
  return el('div', Object.assign({ class: 'card' }, attrs || {}),
    el('div', { class: 'label', text: label }), el('div', { class: 'value', text: value }), extra || null);
}

function budgetBar(spent, cap) {
  if (!cap) return el('div', { class: 'muted', text: 'no daily cap' });
  const pct = Math.min(100, 100 * spent / cap);
  const fill = el('span', { class: pct >= 100 ? 'over' : null });
  fill.style.width = pct.toFixed(1) + '%';
  return el('div', {}, el('div', { class: 'bar' }, fill), el('div', { class: 'muted', text: `${pct.toFixed(1)}% of ${usd(cap)}` }));
}

function drawOverview(view, o) {
  const f = o.fleet;
  view.replaceChildren();
  view.append(el('h1', { text: 'Overview' }));
  const q = f.quota || {};
  if (q.paused) {
    view.append(el('div', { class: 'banner', id: 'paused' },
      el('strong', { text: 'Fleet paused: ' + q.paused }), el('span', { text: q.pause_reason || '' }),
      el('button', { type: 'button', onclick: () => act('/api/resume', 'resume').then(refresh).catch(e => notice(e.message, true)) }, 'Resume')));
  }
  const b = f.budget || {};
  view.append(el('div', { class: 'cards' },
    card('Status', f.status || '?', null, { 'data-field': 'status' }),
    card('Spent today', usd(b.spent_usd), budgetBar(b.spent_usd || 0, b.cap_usd), { 'data-field': 'spent' }),
    card('Calls in flight', num(q.inflight), null, { 'data-field': 'inflight' }),
    card('Running', num(f.running), el('div', { class: 'muted', 'data-field': 'phases',
      text: `${num(f.calling)} calling, ${num(f.waiting_quota)} waiting for the quota` }), { 'data-field': 'running' }),
    card('Dead letters', num(f.dead), null, { 'data-field': 'dead' }),
    card('Waiting for SQLite', num(f.backlog), null, { 'data-field': 'backlog' })));

  view.append(el('h2', { text: 'Roles' }));
  const rows = ROLES.map(r => {
    const qr = (f.queues || {})[r] || {};
    return el('tr', { 'data-role': r },
      cell(r), cell(num(qr.queued), 'num', { 'data-col': 'queued' }), cell(num(qr.delayed), 'num', { 'data-col': 'delayed' }),
      cell(num(qr.retrying), 'num', { 'data-col': 'retrying' }), cell(num(qr.running), 'num', { 'data-col': 'running' }),
      cell(num(qr.calling), 'num', { 'data-col': 'calling' }), cell(num(qr.waiting_quota), 'num', { 'data-col': 'waiting_quota' }),
      cell(num((f.workers || {})[r]), 'num', { 'data-col': 'workers' }));
  });
  view.append(table([{ label: 'role' }, { label: 'queued', num: 1 }, { label: 'delayed', num: 1 },
    { label: 'retrying', num: 1 }, { label: 'running', num: 1 }, { label: 'calling', num: 1 },
    { label: 'waiting for the quota', num: 1 }, { label: 'live workers', num: 1 }], rows, { id: 'roles' }));

  view.append(el('h2', { text: 'Models' }));
  const recent = {};
  for (const w of o.window || []) recent[w.model] = w;
  const models = Object.entries(f.models || {});
  if (!models.length && q.rate_per_s !== undefined) models.push(['(the key)', q]);
  for (const m of Object.keys(recent)) if (!models.find(([n]) => n === m)) models.push([m, null]);
  const mins = Math.round((o.window_s || 300) / 60);
  view.append(table([{ label: 'model' }, { label: 'rate /s', num: 1 }, { label: 'ceiling /s', num: 1 },
    { label: '% of ceiling', num: 1 }, { label: `calls (${mins} min)`, num: 1 }, { label: `429s (${mins} min)`, num: 1 },
    { label: '429s in all', num: 1 }, { label: 'frozen' }, { label: 'breaker' }],
    models.map(([name, s]) => {
      const w = recent[name] || { calls: 0, rate_limited: 0 };
      const pct = s && s.ceiling_per_s ? (100 * s.rate_per_s / s.ceiling_per_s).toFixed(0) + '%' : '–';
      return el('tr', { 'data-model': name },
        cell(name), cell(s ? num(s.rate_per_s) : '–', 'num'), cell(s ? num(s.ceiling_per_s) : '–', 'num'),
        cell(pct, 'num'), cell(num(w.calls), 'num', { 'data-col': 'calls' }),
        cell(num(w.rate_limited), 'num', { 'data-col': 'rate_limited' }),
        cell(s ? num(s.rate_limited) : '–', 'num'), cell(s && s.frozen ? 'frozen' : 'no'),
        cell(s ? statusBadge(s.breaker) : '–'));
    }), { id: 'models' }));

  view.append(el('h2', { text: 'The last hour' }));
  const ended = STATUSES.map(s => ({ name: s, cls: s, values: o.ended[s] }));
  view.append(el('div', { class: 'charts' },
    barChart('Tasks ended per minute', o.minutes, ended, v => String(Math.round(v))),
    barChart('Calls and 429s per minute', o.minutes, [
      { name: 'calls answered', cls: 'calls', values: o.calls.map((c, i) => c - o.rate_limited[i]) },
      { name: '429s', cls: 'rate_limited', values: o.rate_limited }], v => String(Math.round(v))),
    barChart('Spend per minute', o.minutes, [{ name: 'USD', cls: 'spend', values: o.spend_usd }], usd)));
  document.getElementById('updated').textContent = 'updated ' + when(o.now).slice(11);
}

// ---- Tasks -------------------------------------------------------------------

function select(name, values, current) {
  const s = el('select', { name });
  s.append(el('option', { value: '', text: 'any' }));
  for (const v of values) s.append(el('option', { value: v, text: v, selected: v === current }));
  return s;
}

function taskRows(list) {
  return list.map(t => el('tr', { 'data-id': t.id },
    cell(taskLink(t.id)), cell(t.role || '–'), cell(statusBadge(t.status)), cell(t.model || '–'),
    cell(t.prompt || '', 'text'), cell(num(t.attempts), 'num'), cell(usd(t.cost_usd), 'num'),
    cell(when(t.finished_at))));
}

const TASK_HEADERS = [{ label: 'id' }, { label: 'role' }, { label: 'status' }, { label: 'model' },
  { label: 'prompt' }, { label: 'attempts', num: 1 }, { label: 'cost', num: 1 }, { label: 'finished' }];

async function drawTasks(view) {
  const p = params();
  const form = el('form', { class: 'filters', id: 'filters' },
    el('label', {}, 'role', select('role', ROLES.concat(['none']), p.get('role'))),
    el('label', {}, 'status', select('status', STATUSES, p.get('status'))),
    el('label', {}, 'model', el('input', { name: 'model', value: p.get('model') || '', size: 14 })),
    el('label', {}, 'flow', el('input', { name: 'flow', value: p.get('flow') || '', size: 14 })),
    el('label', {}, 'search', el('input', { name: 'q', type: 'search', value: p.get('q') || '', size: 24 })),
    el('button', { type: 'submit' }, 'Filter'));
  form.addEventListener('submit', ev => {
    ev.preventDefault();
    const next = new URLSearchParams();
    for (const [k, v] of new FormData(form)) if (v) next.set(k, v);
    go('/tasks' + (next.toString() ? '?' + next : ''));
  });
  view.replaceChildren(el('h1', { text: 'Tasks' }), form);
  const r = await api('/api/tasks?' + p.toString());
  const t = table(TASK_HEADERS, taskRows(r.tasks), { id: 'tasks' });
  view.append(t);
  if (!r.tasks.length) view.append(el('p', { class: 'muted', id: 'empty', text: 'No stored task matches.' }));
  if (r.tasks.length) {
    const more = el('button', { type: 'button', class: 'secondary', id: 'older' }, 'Older');
    more.addEventListener('click', async () => {
      const last = t.querySelector('tbody tr:last-child');
      const q = params();
      q.set('before', last ? last.lastChild.dataset.finished || '' : '');
      const rr = await api('/api/tasks?' + q.toString());
      for (const row of taskRows(rr.tasks)) t.tBodies[0].append(row);
      stampFinished(t, rr.tasks);
      if (!rr.tasks.length) more.remove();
    });
    stampFinished(t, r.tasks);
    view.append(el('p', {}, more));
  }
}

// The raw finish time of each row, for the next page.
function stampFinished(t, list) {
  const rows = t.tBodies[0].rows;
  for (let i = 0; i < list.length; i++) rows[rows.length - list.length + i].lastChild.dataset.finished = list[i].finished_at || '';
}

function tree(tasks, root) {
  const children = {};
  for (const t of tasks) {
    let parents = [];
    try { parents = t.parents ? JSON.parse(t.parents) : []; } catch (e) { parents = []; }
    const first = parents.find(p => tasks.some(x => x.id === p));
    if (first) (children[first] = children[first] || []).push(t);
  }
  const seen = new Set();
  function node(t) {
    seen.add(t.id);
    const li = el('li', { 'data-id': t.id }, taskLink(t.id), ' ', el('span', { class: 'muted', text: t.role || '' }), ' ',
      statusBadge(t.status), ' ', el('span', { class: 'muted', text: usd(t.cost_usd) }));
    const kids = (children[t.id] || []).filter(k => !seen.has(k.id));
    if (kids.length) li.append(el('ul', { class: 'tree' }, ...kids.map(node)));
    return li;
  }
  const top = tasks.filter(t => t.id === root);
  const ul = el('ul', { class: 'tree', id: 'flow-tree' }, ...(top.length ? top : tasks.slice(0, 1)).map(node));
  for (const t of tasks) if (!seen.has(t.id)) ul.append(node(t));
  return ul;
}

async function drawTask(view) {
  const id = params().get('id') || '';
  const r = await api('/api/task?id=' + encodeURIComponent(id));
  const t = r.task;
  const actions = el('p', {});
  const requeue = el('button', { type: 'button', id: 'requeue' }, 'Requeue');
  requeue.addEventListener('click', () => act('/api/requeue?id=' + encodeURIComponent(t.id), 'requeue ' + t.id).catch(e => notice(e.message, true)));
  const cancel = el('button', { type: 'button', class: 'danger', id: 'cancel' }, 'Cancel');
  cancel.addEventListener('click', () => act('/api/cancel?id=' + encodeURIComponent(t.id), 'cancel ' + t.id).catch(e => notice(e.message, true)));
  if (['failed', 'expired', 'cancelled'].includes(t.status)) actions.append(requeue);
  if (!STATUSES.includes(t.status)) actions.append(cancel);
  const fields = [['status', statusBadge(t.status)], ['role', t.role], ['model', t.model], ['priority', t.priority],
    ['attempts', num(t.attempts) + (t.max_attempts ? ' of ' + t.max_attempts : '') + (t.attempts_note ? ` (${t.attempts_note})` : '')],
    ['tokens', `${num(t.prompt_tokens)} in, ${num(t.completion_tokens)} out` + (t.reasoning_tokens ? `, ${t.reasoning_tokens} reasoning` : '')],
    ['cost', usd(t.cost_usd !== undefined ? t.cost_usd : (t.cost_ticks ? t.cost_ticks / 1e10 : null))],
    ['latency', ms(t.latency_ms)], ['submitted', when(t.submitted_at)], ['started', when(t.started_at)],
    ['finished', when(t.finished_at)], ['worker', t.worker],
    ['flow', t.flow_id && r.flow && r.flow.length > 1 ? flowLink(t.flow_id) : null],
    ['answer from the cache of', t.cached_from ? taskLink(t.cached_from) : null], ['notes', t.notes],
    ['stored', r.stored ? 'in SQLite' : 'not yet (still in Redis)']];
  const dl = el('dl', { class: 'fields', id: 'task-fields' });
  for (const [k, v] of fields) if (v !== null && v !== undefined && v !== '') dl.append(el('dt', { text: k }), el('dd', { 'data-field': k }, v instanceof Node ? v : String(v)));
  view.replaceChildren(el('h1', {}, 'Task ', el('code', { text: t.id })), actions, dl,
    el('div', { class: 'grid2' },
      el('div', {}, el('h2', { text: 'Prompt' }), el('pre', { id: 'prompt', text: t.prompt || '' })),
      el('div', {}, el('h2', { text: 'Output' }), el('pre', { id: 'output', text: t.output || '' }))));
  if (t.error) view.append(el('h2', { text: 'Error' }), el('pre', { id: 'error', text: t.error }));
  view.append(el('h2', { text: 'Attempts' }), table([{ label: 'n', num: 1 }, { label: 'model' }, { label: 'HTTP', num: 1 },
    { label: 'outcome' }, { label: 'latency', num: 1 }, { label: 'first token', num: 1 }, { label: 'tokens in/out', num: 1 },
    { label: 'cost', num: 1 }, { label: 'started' }, { label: 'error' }],
    (r.attempts || []).map(a => el('tr', { 'data-n': a.n },
      cell(a.n, 'num'), cell(a.model || '–'), cell(num(a.http_status), 'num'), cell(a.outcome),
      cell(ms(a.latency_ms), 'num'), cell(ms(a.ttft_ms), 'num'),
      cell(`${num(a.prompt_tokens)} / ${num(a.completion_tokens)}`, 'num'), cell(usd(a.cost_usd), 'num'),
      cell(when(a.started_at)), cell(a.error || '', 'text'))), { id: 'attempts' }));
  if (r.flow && r.flow.length > 1) view.append(el('h2', { text: 'Flow' }), tree(r.flow, t.flow_id));
}

// ---- Dead letters --------------------------------------------------------------

async function drawDead(view) {
  const r = await api('/api/dead?limit=200');
  const rows = r.dead.map(d => {
    const tr = el('tr', { 'data-id': d.id });
    const requeue = el('button', { type: 'button', class: 'requeue' }, 'Requeue');
    const cancel = el('button', { type: 'button', class: 'danger cancel' }, 'Cancel');
    const run = (what) => () => act(`/api/${what}?id=` + encodeURIComponent(d.id), `${what} ${d.id}`)
      .then(() => tr.remove()).catch(e => notice(e.message, true));
    requeue.addEventListener('click', run('requeue'));
    cancel.addEventListener('click', run('cancel'));
    tr.append(cell(taskLink(d.id)), cell(d.role || '–'), cell(d.model || '–'), cell(`${d.attempts} of ${d.max_attempts}`, 'num', d.attempts_note ? { title: d.attempts_note } : null),
      cell(when(d.finished_at)), cell(d.error || '', 'text'), cell(d.prompt || '', 'text'), el('td', {}, requeue, ' ', cancel));
    return tr;
  });
  view.replaceChildren(el('h1', {}, 'Dead letters ', el('span', { class: 'muted', id: 'dead-total', text: `(${r.total})` })),
    el('p', { class: 'muted', text: 'Tasks that ended failed. Requeue runs one again with a fresh allowance of attempts; cancel ends it for good.' }),
    table([{ label: 'id' }, { label: 'role' }, { label: 'model' }, { label: 'attempts', num: 1 }, { label: 'failed' },
      { label: 'error' }, { label: 'prompt' }, { label: '' }], rows, { id: 'dead' }));
  if (!rows.length) view.append(el('p', { class: 'muted', id: 'empty', text: 'No dead letters.' }));
}

// ---- Flows ------------------------------------------------------------------------

async function drawFlows(view) {
  const r = await api('/api/flows?limit=100');
  view.replaceChildren(el('h1', { text: 'Flows' }), table([{ label: 'root' }, { label: 'status' }, { label: 'tasks', num: 1 },
    { label: 'done', num: 1 }, { label: 'failed', num: 1 }, { label: 'cancelled', num: 1 }, { label: 'tokens', num: 1 },
    { label: 'cost', num: 1 }, { label: 'submitted' }, { label: 'finished' }],
    r.flows.map(f => el('tr', { 'data-id': f.flow_id }, cell(flowLink(f.flow_id)), cell(statusBadge(f.status)), cell(f.tasks, 'num'),
      cell(f.done, 'num'), cell(f.failed, 'num'), cell(f.cancelled, 'num'), cell(num(f.tokens), 'num'), cell(usd(f.cost_usd), 'num'),
      cell(when(f.submitted_at)), cell(when(f.finished_at)))), { id: 'flows' }));
  if (!r.flows.length) view.append(el('p', { class: 'muted', id: 'empty', text: 'No stored flow of more than one task yet.' }));
}

async function drawFlow(view) {
  const id = params().get('id') || '';
  const r = await api('/api/flow?id=' + encodeURIComponent(id));
  const f = r.flow;
  view.replaceChildren(el('h1', {}, 'Flow ', el('code', { text: f.flow_id })),
    el('dl', { class: 'fields' }, el('dt', { text: 'status' }), el('dd', {}, statusBadge(f.status)),
      el('dt', { text: 'tasks' }), el('dd', { text: `${f.tasks} (${f.done} done, ${f.failed} failed, ${f.cancelled} cancelled)` }),
      el('dt', { text: 'cost' }), el('dd', { 'data-field': 'cost', text: usd(f.cost_usd) }),
      el('dt', { text: 'tokens' }), el('dd', { text: num(f.tokens) })),
    el('h2', { text: 'Tasks' }), tree(r.tasks, f.flow_id));
}

// ---- routing ------------------------------------------------------------------------

const VIEWS = { '/': ['overview', null], '/tasks': ['tasks', drawTasks], '/task': ['tasks', drawTask],
  '/dead': ['dead', drawDead], '/flows': ['flows', drawFlows], '/flow': ['flows', drawFlow] };

// Draws the overview, and again every REFRESH_MS while it is the view
// shown (an answer that comes after the user went elsewhere is dropped).
async function refresh() {
  const view = document.getElementById('view');
  let o = null;
  try {
    o = await api('/api/overview');
  } catch (e) {
    if (location.pathname === '/') notice(e.message, true);
  }
  if (location.pathname !== '/') return;
  if (o) drawOverview(view, o);
  clearTimeout(timer);
  timer = setTimeout(refresh, REFRESH_MS);
}

async function show() {
  clearTimeout(timer);
  notice('');
  const [name, draw] = VIEWS[location.pathname] || VIEWS['/'];
  for (const a of document.querySelectorAll('header nav a')) a.classList.toggle('active', a.dataset.view === name);
  document.getElementById('updated').textContent = '';
  const view = document.getElementById('view');
  if (!draw) return refresh();
  try {
    await draw(view);
  } catch (e) {
    view.replaceChildren(el('p', { class: 'error', id: 'failure', text: e.message }));
  }
}

function go(href) {
  history.pushState(null, '', href);
  show();
}

document.addEventListener('click', ev => {
  const a = ev.target.closest('a');
  if (!a || a.origin !== location.origin || ev.ctrlKey || ev.metaKey || ev.shiftKey) return;
  if (!VIEWS[a.pathname]) return;
  ev.preventDefault();
  go(a.pathname + a.search);
});
window.addEventListener('popstate', show);

document.addEventListener('DOMContentLoaded', async () => {
  try { session = await api('/api/session'); } catch (e) { return; }
  const out = document.getElementById('logout');
  out.hidden = session.auth !== 'session';
  out.addEventListener('click', async () => {
    await fetch('/logout', { method: 'POST', headers: { 'X-CSRF-Token': session.csrf || '' } });
    location.href = '/login';
  });
  show();
});
