// The queue: consignments with their decision, searched, filtered by office, channel and status,
// sorted by every column the service can sort on, paged, with a live count polled every few
// seconds. Filters, search, sort and page live in the URL, so a link or a reload shows the same.
import { api } from '../api.js';
import { channelBadge, downloadCsv, el, errorBox, fmtMoney, fmtNumber, setTitle, statusBadge } from '../ui.js';

const POLL_MS = 5000;
const SORTABLE = {
  consignment_id: 'Consignment', created: 'Received', score: 'Risk score', updated: 'Updated',
  date: 'Date', importer: 'Importer', hs: 'HS code', value: 'Declared value',
};
// Columns whose first click sorts high to low.
const DESC_FIRST = new Set(['score', 'updated', 'created', 'date', 'value']);
const SEARCH_MAX = 200;
const EXPORT_MAX = 50000;  // rows in one CSV export

// Every consignment of the filters (not only the page shown), as CSV.
async function exportQueue(f, button) {
  const header = ['consignment_id', 'date', 'office', 'score', 'channel', 'control', 'over_budget', 'status', 'outcome',
    'declarations', 'declaration_id', 'importer_id', 'hs_code', 'origin_country', 'declared_value', 'currency', 'top_reason', 'selection'];
  const rows = [];
  button.disabled = true;
  try {
    for (let offset = 0; offset < EXPORT_MAX; offset += 1000) {
      button.textContent = `Exporting… ${fmtNumber(rows.length)}`;
      const page = await api.queue({ q: f.q, over_budget: f.over, office: f.office, channel: f.channel, status: f.status, sort: f.sort, limit: 1000, offset });
      for (const it of page.items) {
        const d = it.declaration || {};
        rows.push([it.consignment_id, d.date || it.date, it.lane, it.score, it.channel, it.control ? 1 : 0, it.over_budget ? 1 : 0, it.status, it.outcome || '',
          it.declarations, d.declaration_id, d.importer_id, d.hs_code, d.origin_country, d.declared_value, d.currency, (it.reasons || [])[0]?.text || '', it.selection]);
      }
      if (page.items.length < 1000 || rows.length >= page.total) break;
    }
    downloadCsv(`queue-${new Date().toISOString().slice(0, 10)}.csv`, header, rows.slice(0, EXPORT_MAX));
  } finally {
    button.disabled = false;
    button.textContent = 'Export CSV';
  }
}
const PAGE_SIZES = [10, 25, 50, 100];

const CHANNELS = ['', 'red', 'yellow', 'green'];
const STATUSES = ['pending', 'released', 'done', 'all'];

// Filters from the URL; a value the queue does not know (a hand-edited link) falls back to the
// default instead of showing one filter while the service refuses another.
function filtersFrom(params) {
  const channel = params.get('channel') || '';
  const status = params.get('status') || 'pending';
  const sort = params.get('sort') || '-score';
  return {
    q: (params.get('q') || '').slice(0, SEARCH_MAX),
    office: (params.get('office') || '').slice(0, 64),
    channel: CHANNELS.includes(channel) ? channel : '',
    status: STATUSES.includes(status) ? status : 'pending',
    over: params.get('over_budget') === '1' ? '1' : '',
    sort: SORTABLE[sort.replace(/^-/, '')] ? sort : '-score',
    limit: PAGE_SIZES.includes(+params.get('limit')) ? +params.get('limit') : 50,
    page: Math.max(1, parseInt(params.get('page') || '1', 10) || 1),
  };
}

function hashOf(f) {
  const q = new URLSearchParams();
  for (const k of ['q', 'office', 'channel', 'status', 'over', 'sort', 'limit', 'page']) {
    const v = f[k];
    const dflt = { status: 'pending', sort: '-score', limit: 50, page: 1 }[k];
    if (v !== '' && v !== undefined && v !== dflt) q.set(k, v);
  }
  if (q.has('over')) { q.delete('over'); q.set('over_budget', '1'); }
  const s = q.toString();
  return `#/queue${s ? `?${s}` : ''}`;
}

// The declaration behind a queue row: the service embeds a summary of the first declaration
// (`declaration`, null for a consignment known only by its scan). A server older than that field
// leaves it out (undefined): the row then fetches the consignment (few rows per page, loopback).
function declarationOf(item) {
  return item.declaration === undefined ? undefined : item.declaration;
}

// Marks a consignment the budget could not take as its score asked (docs/api.md, over_budget).
export function overBudgetTag(item) {
  if (!item.over_budget) return null;
  const carried = item.channel === 'red';
  return el('span', { class: 'badge over-budget', 'data-over-budget': carried ? 'carried' : 'supervisor', title: item.selection || '' },
    carried ? '⤳ over budget, carried over' : '⚑ over budget: supervisor');
}

export async function render(main, ctx) {
  setTitle('Queue');
  if (['trainer', 'integrator'].includes(ctx.user?.role)) {
    main.append(el('h1', {}, 'Inspection queue'), el('p', { class: 'error-box', role: 'alert' },
      `The queue is for officers, analysts and administrators; your role is ${ctx.user.role}.`,
      ctx.user.role === 'trainer' ? [' ', el('a', { href: '#/training', id: 'queue-to-training' }, 'Go to Training')] : null));
    return null;
  }
  sessionStorage.setItem('cs-last-queue', location.hash || '#/queue');
  const f = filtersFrom(ctx.params);
  const aborter = new AbortController();
  const knownOffices = new Set(JSON.parse(sessionStorage.getItem('cs-offices') || '[]'));
  const officeCounts = new Map();  // office -> {total, pending, released, done} from GET /api/offices

  const searchInput = el('input', { id: 'f-q', name: 'q', type: 'search', value: f.q, maxlength: String(SEARCH_MAX), placeholder: 'id, importer, HS, description', size: '24', autocomplete: 'off', title: 'Consignment or declaration id, importer, declarant or seller, HS code (from its start), or words of the description' });
  const officeInput = el('input', { id: 'f-office', name: 'office', value: f.office, list: 'office-list', placeholder: 'all offices', size: '12', autocomplete: 'off' });
  const officeList = el('datalist', { id: 'office-list' });
  const channelSel = el('select', { id: 'f-channel', name: 'channel' },
    ...[['', 'All channels'], ['red', 'Red · inspect'], ['yellow', 'Yellow · documents'], ['green', 'Green · release']]
      .map(([v, t]) => el('option', { value: v, selected: f.channel === v }, t)));
  const statusSel = el('select', { id: 'f-status', name: 'status' },
    ...[['pending', 'Pending'], ['released', 'Released'], ['done', 'Done'], ['all', 'All']]
      .map(([v, t]) => el('option', { value: v, selected: f.status === v }, t)));
  const overBox = el('input', { type: 'checkbox', id: 'f-over', name: 'over_budget', checked: f.over === '1' });
  const limitSel = el('select', { id: 'f-limit', name: 'limit' },
    ...PAGE_SIZES.map((n) => el('option', { value: String(n), selected: f.limit === n }, `${n} per page`)));
  const apply = () => {
    location.hash = hashOf({ ...f, q: searchInput.value.trim(), office: officeInput.value.trim(), channel: channelSel.value, status: statusSel.value, over: overBox.checked ? '1' : '', limit: +limitSel.value, page: 1 });
  };
  for (const s of [channelSel, statusSel, limitSel, overBox]) s.addEventListener('change', apply);
  const filterForm = el('form', { class: 'filters', role: 'search', 'aria-label': 'Filter the queue' },
    el('label', { for: 'f-q' }, 'Search'), searchInput,
    el('label', { for: 'f-office' }, 'Office'), officeInput, officeList,
    el('label', { for: 'f-channel' }, 'Channel'), channelSel,
    el('label', { for: 'f-status' }, 'Status'), statusSel,
    el('label', { class: 'check', title: 'Consignments the budget could not take as their score asked' }, overBox, ' Over budget only'),
    el('label', { for: 'f-limit', class: 'visually-hidden' }, 'Rows per page'), limitSel,
    el('button', { type: 'submit' }, 'Apply'),
    el('button', { type: 'button', class: 'link-button', onclick: () => { location.hash = '#/queue'; } }, 'Clear filters'));
  filterForm.addEventListener('submit', (e) => { e.preventDefault(); apply(); });

  const liveCount = el('p', { class: 'live-count', id: 'live-count', 'aria-live': 'polite' }, 'Counting…');
  const summary = el('ul', { class: 'channel-summary', 'aria-label': 'Pending consignments per channel' });
  const exportBtn = el('button', { type: 'button', id: 'export-csv', title: `Every consignment of these filters, up to ${fmtNumber(EXPORT_MAX)}, as a CSV file` }, 'Export CSV');
  exportBtn.addEventListener('click', () => exportQueue(f, exportBtn).catch((e) => { liveCount.textContent = `Export failed: ${e.message}`; }));
  const refreshBtn = el('button', { type: 'button', class: 'refresh', hidden: true, onclick: () => load() }, 'Refresh');
  const tableWrap = el('div', { class: 'table-wrap' });
  const pager = el('nav', { class: 'pager', 'aria-label': 'Pages' });

  main.append(el('section', { class: 'queue-page' },
    el('div', { class: 'page-head' }, el('h1', {}, 'Inspection queue'), summary),
    filterForm,
    el('div', { class: 'live-row' }, liveCount, refreshBtn, exportBtn),
    tableWrap, pager));

  let shownTotal = null;
  let lastItems = [];

  function header(key, label) {
    const col = { consignment_id: 'id' }[key] || key;  // the body cells' data-col
    if (!SORTABLE[key]) return el('th', { scope: 'col', 'data-col': col }, label);
    const active = f.sort.replace(/^-/, '') === key;
    const desc = f.sort.startsWith('-');
    const next = active ? (desc ? key : `-${key}`) : (DESC_FIRST.has(key) ? `-${key}` : key);
    return el('th', { scope: 'col', 'data-col': col, 'aria-sort': active ? (desc ? 'descending' : 'ascending') : 'none' },
      el('button', {
        type: 'button', class: 'sort', 'data-sort': key,
        title: `Sort by ${label.toLowerCase()}`,
        onclick: () => { location.hash = hashOf({ ...f, sort: next, page: 1 }); },
      }, label, el('span', { class: 'sort-icon', 'aria-hidden': 'true' }, active ? (desc ? ' ▼' : ' ▲') : ' ↕')));
  }

  function row(item) {
    const d = declarationOf(item);
    const top = (item.reasons || [])[0];
    const cells = {
      date: el('td', { 'data-col': 'date' }, d?.date || item.date || '—'),
      importer: el('td', { 'data-col': 'importer' }, d === undefined ? '…' : d?.importer_id || '—'),
      hs: el('td', { 'data-col': 'hs' }, d === undefined ? '…' : d?.hs_code || '—'),
      origin: el('td', { 'data-col': 'origin' }, d === undefined ? '…' : d?.origin_country || '—'),
      value: el('td', { 'data-col': 'value', class: 'num' }, d === undefined ? '…' : d ? fmtMoney(d.declared_value, d.currency) : '—'),
    };
    if (d === null) cells.importer.title = 'No declaration yet: known only by its scan';
    if (item.declarations > 1) cells.hs.append(el('span', { class: 'muted small', title: `${item.declarations} declarations; the first is shown` }, ` +${item.declarations - 1}`));
    const href = `#/consignment/${encodeURIComponent(item.consignment_id)}`;
    const tr = el('tr', { 'data-id': item.consignment_id, 'data-channel': item.channel, 'data-score': String(item.score) },
      el('th', { scope: 'row', 'data-col': 'id' }, el('a', { href }, item.consignment_id),
        d?.item_id ? el('span', { class: 'item-id muted small', 'data-item-id': d.item_id, title: /^[A-Z]{2}\d{9}[A-Z]{2}$/i.test(d.item_id) ? 'Postal item (S10 identifier)' : 'Express consignment (transport document)' },
          d.item_id === item.consignment_id ? (/^[A-Z]{2}\d{9}[A-Z]{2}$/i.test(d.item_id) ? ' ✉ S10' : ' ✉') : ` ✉ ${d.item_id}`) : null,
        item.has_scan ? el('span', { class: 'scan-tag', title: 'Has an X-ray scan' }, ' ▣', el('span', { class: 'visually-hidden' }, ' has a scan')) : null),
      cells.date, cells.importer, cells.hs, cells.origin, cells.value,
      el('td', { 'data-col': 'score', class: 'num' }, el('meter', { min: '0', max: '1', low: '0.3', high: '0.7', optimum: '0', value: String(item.score), 'aria-hidden': 'true' }), ' ', fmtNumber(item.score, 3)),
      el('td', { 'data-col': 'channel' }, channelBadge(item.channel, { control: item.control }), overBudgetTag(item)),
      el('td', { 'data-col': 'status' }, statusBadge(item.status)),
      el('td', { 'data-col': 'reason', class: 'reason' }, top ? `${top.text}` : el('span', { class: 'muted' }, 'no risk evidence')),
      el('td', { 'data-col': 'office' }, item.lane || '—'));
    // A click anywhere on the row opens it, like the link does.
    tr.addEventListener('click', (e) => { if (!e.target.closest('a') && !window.getSelection().toString()) location.hash = href; });
    if (d === undefined) tr.fillDeclaration = (decl) => {
      cells.date.textContent = decl?.date || item.date || '—';
      cells.importer.textContent = decl?.importer_id || '—';
      cells.hs.textContent = decl?.hs_code || '—';
      cells.origin.textContent = decl?.origin_country || '—';
      cells.value.textContent = decl ? fmtMoney(decl.declared_value, decl.currency) : '—';
    };
    return tr;
  }

  // The office datalist: every office the service knows (GET /api/offices), with its counts, plus
  // any remembered from earlier pages of this session.
  function fillOffices() {
    sessionStorage.setItem('cs-offices', JSON.stringify([...knownOffices].slice(0, 200)));
    officeList.replaceChildren(...[...knownOffices].sort().map((o) => {
      const n = officeCounts.get(o);
      return el('option', { value: o, label: n ? `${o} · ${fmtNumber(n.pending)} pending of ${fmtNumber(n.total)}` : o });
    }));
  }

  async function loadOffices() {
    try {
      const r = await api.offices(aborter.signal);
      for (const o of r?.offices || []) {
        if (!o.office) continue;
        knownOffices.add(o.office);
        officeCounts.set(o.office, o);
      }
      fillOffices();
    } catch (e) {
      if (e.name !== 'AbortError') fillOffices();  // the remembered offices still help
    }
  }

  async function fillMissing(rows) {
    const todo = rows.filter((r) => r.fillDeclaration);
    let next = 0;
    const worker = async () => {
      while (next < todo.length && !aborter.signal.aborted) {
        const tr = todo[next++];
        try {
          const c = await api.consignment(tr.dataset.id, aborter.signal);
          tr.fillDeclaration((c.declarations || [])[0]);
        } catch (e) {
          if (e.name === 'AbortError') return;
          tr.fillDeclaration(null);
        }
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }

  async function load() {
    refreshBtn.hidden = true;
    tableWrap.setAttribute('aria-busy', 'true');
    let page;
    try {
      page = await api.queue({ q: f.q, over_budget: f.over, office: f.office, channel: f.channel, status: f.status, sort: f.sort, limit: f.limit, offset: (f.page - 1) * f.limit }, aborter.signal);
    } catch (e) {
      if (e.name === 'AbortError') return;
      tableWrap.replaceChildren(errorBox(e, 'The queue could not be loaded'));
      tableWrap.removeAttribute('aria-busy');
      return;
    }
    // A page past the end (an old link, or the queue shrank): go to the last page there is.
    const lastPage = Math.max(1, Math.ceil(page.total / f.limit));
    if (f.page > lastPage && page.items.length === 0 && page.total > 0) {
      f.page = lastPage;
      history.replaceState(null, '', hashOf(f));
      return load();
    }
    lastItems = page.items;
    // The consignment page's "next" follows this list (and the filters in cs-last-queue).
    sessionStorage.setItem('cs-queue-window', JSON.stringify({ offset: (f.page - 1) * f.limit, ids: page.items.map((it) => it.consignment_id) }));
    shownTotal = page.total;
    for (const it of page.items) if (it.lane) knownOffices.add(it.lane);
    fillOffices();
    const rows = page.items.map(row);
    const table = el('table', { class: 'queue', id: 'queue-table' },
      el('caption', { class: 'visually-hidden' }, 'Consignments in the queue; column headers with buttons sort the table'),
      el('thead', {}, el('tr', {},
        header('consignment_id', 'Consignment'), header('date', 'Date'), header('importer', 'Importer'), header('hs', 'HS code'),
        header('origin', 'Origin'), header('value', 'Declared value'), header('score', 'Risk score'), header('channel', 'Channel'),
        header('status', 'Status'), header('reason', 'Top reason'), header('office', 'Office'))),
      el('tbody', {}, rows));
    const sortLabel = `${SORTABLE[f.sort.replace(/^-/, '')] || f.sort}, ${f.sort.startsWith('-') ? 'descending' : 'ascending'}`;
    tableWrap.replaceChildren(page.items.length ? table : el('p', { class: 'empty' }, f.q ? `Nothing matches “${f.q}” with these filters.` : 'Nothing in the queue for these filters.'),
      el('p', { class: 'muted small' }, `Sorted by ${sortLabel}. Sortable columns have a button in their header.`));
    tableWrap.removeAttribute('aria-busy');
    renderPager(page.total);
    updateCount(page.total, null);
    fillMissing(rows);
  }

  function renderPager(total) {
    const pages = Math.max(1, Math.ceil(total / f.limit));
    const from = total ? (f.page - 1) * f.limit + 1 : 0;
    const to = Math.min(total, f.page * f.limit);
    const go = (p) => { location.hash = hashOf({ ...f, page: p }); };
    pager.replaceChildren(
      el('button', { type: 'button', disabled: f.page <= 1, onclick: () => go(f.page - 1), 'aria-label': 'Previous page' }, '← Previous'),
      el('span', { class: 'pager-info', id: 'pager-info' }, `${from}–${to} of ${total} · page ${f.page} of ${pages}`),
      el('button', { type: 'button', disabled: f.page >= pages, onclick: () => go(f.page + 1), 'aria-label': 'Next page' }, 'Next →'));
  }

  function updateCount(total, polledAt) {
    const t = (polledAt || new Date()).toLocaleTimeString('en-GB');
    liveCount.replaceChildren(el('strong', { id: 'queue-total', 'data-total': String(total) }, fmtNumber(total)),
      ` consignment${total === 1 ? '' : 's'} match these filters · live, checked ${t}`);
    liveCount.dataset.total = String(total);
  }

  async function poll() {
    try {
      const base = { q: f.q, over_budget: f.over, office: f.office, status: f.status, limit: 1, offset: 0 };
      const [now, red, yellow, green] = await Promise.all([
        api.queue({ ...base, channel: f.channel }, aborter.signal),
        api.queue({ office: f.office, status: 'pending', channel: 'red', limit: 1 }, aborter.signal),
        api.queue({ office: f.office, status: 'pending', channel: 'yellow', limit: 1 }, aborter.signal),
        api.queue({ office: f.office, status: 'pending', channel: 'green', limit: 1 }, aborter.signal),
      ]);
      summary.replaceChildren(
        el('li', {}, channelBadge('red'), el('strong', { 'data-count': 'red' }, ` ${fmtNumber(red.total)}`), ' pending'),
        el('li', {}, channelBadge('yellow'), el('strong', { 'data-count': 'yellow' }, ` ${fmtNumber(yellow.total)}`), ' pending'),
        el('li', {}, channelBadge('green'), el('strong', { 'data-count': 'green' }, ` ${fmtNumber(green.total)}`), ' pending'));
      updateCount(now.total, new Date());
      if (shownTotal !== null && now.total !== shownTotal) {
        const diff = now.total - shownTotal;
        refreshBtn.hidden = false;
        refreshBtn.textContent = `Refresh (${diff > 0 ? `${diff} new` : `${-diff} fewer`})`;
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
      liveCount.textContent = `Live count unavailable: ${e.message}`;
    }
  }

  loadOffices();
  await load();
  poll();
  const timer = setInterval(() => { if (!document.hidden) poll(); }, POLL_MS);
  // Keyboard: "/" focuses the search; j/k move between rows' links.
  const onKey = (e) => {
    if (e.target.closest('input, select, textarea') || e.ctrlKey || e.metaKey || e.altKey) return;
    const links = [...main.querySelectorAll('#queue-table tbody th a')];
    const i = links.indexOf(document.activeElement);
    if (e.key === '/') { e.preventDefault(); searchInput.focus(); }
    else if (e.key === 'j' && links.length) { e.preventDefault(); links[Math.min(links.length - 1, i + 1)].focus(); }
    else if (e.key === 'k' && links.length) { e.preventDefault(); links[Math.max(0, i - 1)].focus(); }
  };
  document.addEventListener('keydown', onKey);
  return () => { clearInterval(timer); aborter.abort(); document.removeEventListener('keydown', onKey); void lastItems; };
}
