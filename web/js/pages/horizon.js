// Horizon scanning for analysts: what changed in the stored declarations since a date (volume
// shifts, new routes and importers, price drops, hit-rate shifts, X-ray finding shifts per route),
// ranked per kind with the effect, the q-value and the weekly series (GET /api/horizon;
// docs/horizon.md). "Draft a rule" hands the Rules page a rule naming the signal's series,
// appended to the profile in force there.
import { api } from '../api.js';
import { el, errorBox, fmtNumber, fmtSignificant, setTitle } from '../ui.js';

const KINDS = [
  ['volume_shift', 'Volume shift'],
  ['new_route', 'New route'],
  ['new_importer', 'New importer'],
  ['price_drop', 'Unit price drop'],
  ['hit_rate_shift', 'Hit rate shift'],
  ['finding_shift', 'X-ray finding shift'],
];
const KIND_NAME = Object.fromEntries(KINDS);
// The key a draft rule is handed over in (the Rules page reads and removes it).
export const DRAFT_KEY = 'clearsight.rules.draft';
const CHARTS_PER_KIND = 10;  // the strongest of each kind get a chart

function isoDay(d) { return d.toISOString().slice(0, 10); }

function seriesText(key) {
  const names = { hs_code: 'HS', origin_country: 'from', office_id: 'office', importer_id: 'importer', finding: 'finding' };
  return Object.entries(key || {}).map(([k, v]) => `${names[k] || k} ${v}`).join(', ');
}

function effectText(s) {
  if (s.kind === 'new_route' || s.kind === 'new_importer') return `${fmtNumber(s.effect, 1)} a week`;
  if (s.kind === 'hit_rate_shift') return `${s.effect >= 0 ? '+' : ''}${fmtNumber(100 * s.effect, 1)} points`;
  return `${s.effect >= 0 ? '+' : ''}${fmtNumber(100 * s.effect, 0)} %`;
}

// The fields of a signal's key a rule can test: every one but the X-ray finding class (a rule
// scores declarations; for a finding shift it selects the route's).
function ruleFields(s) {
  return Object.entries(s.key || {}).filter(([k]) => k !== 'finding');
}

// A rule for the signal's series: each field of its key as a condition (the HS code by prefix).
export function draftRule(s) {
  const quote = (v) => String(v).replace(/["\\\n]/g, ' ');
  const conditions = ruleFields(s).map(([k, v]) =>
    k === 'hs_code' ? `hs_code startswith "${quote(v)}"` : `${k} = "${quote(v)}"`);
  return `rule "horizon: ${s.kind} ${quote(seriesText(s.key))}"\n` +
    `  when ${conditions.join(' and ')}\n` +
    '  then score +0.2\n' +
    `  reason "${quote(s.summary || seriesText(s.key))}"\n` +
    'end\n';
}

// Chart.js (Debian libjs-chart.js), served by the service at vendor/chart.min.js; null when it is
// not installed.
let chartLib;
export function loadChart() {
  if (window.Chart) return Promise.resolve(window.Chart);
  if (!chartLib) {
    chartLib = new Promise((resolve) => {
      const script = el('script', { src: 'vendor/chart.min.js' });
      script.onload = () => resolve(window.Chart || null);
      script.onerror = () => resolve(null);
      document.head.append(script);
    });
  }
  return chartLib;
}

function drawChart(Chart, canvas, s, since) {
  const weeks = s.series?.weeks || [];
  const values = s.series?.values || [];
  return new Chart(canvas, {
    type: 'line',
    data: {
      labels: weeks,
      datasets: [{
        data: values,
        borderWidth: 1.5,
        pointRadius: 0,
        borderColor: '#2563eb',
        segment: { borderColor: (c) => (weeks[c.p1DataIndex] >= since ? '#dc2626' : '#2563eb') },
      }],
    },
    options: {
      animation: false,
      responsive: false,
      plugins: { legend: { display: false }, tooltip: { enabled: true } },
      scales: { x: { display: false }, y: { display: true, ticks: { maxTicksLimit: 3, font: { size: 9 } } } },
    },
  });
}

export async function render(main, ctx) {
  setTitle('Horizon');
  main.append(el('h1', {}, 'Horizon'));
  if (!ctx.isAnalyst()) {
    main.append(el('p', { class: 'error-box', role: 'alert' },
      `Horizon scanning is for analysts and administrators; your role is ${ctx.user?.role}.`));
    return null;
  }
  const since = ctx.params.get('since') || isoDay(new Date(Date.now() - 56 * 86400000));
  const kind = ctx.params.get('kind') || '';
  const baselineWeeks = ctx.params.get('baseline_weeks') || '52';
  const fdr = ctx.params.get('fdr') || '0.05';
  const sinceInput = el('input', { id: 'horizon-since', type: 'date', value: since, required: true });
  const weeksInput = el('input', { id: 'horizon-baseline-weeks', type: 'number', min: '4', max: '156', step: '1', value: baselineWeeks, required: true });
  const fdrInput = el('input', { id: 'horizon-fdr', type: 'number', min: '0.001', max: '0.2', step: '0.001', value: fdr, required: true });
  const kindSelect = el('select', { id: 'horizon-kind' }, el('option', { value: '' }, 'All kinds'),
    KINDS.map(([k, name]) => el('option', { value: k, selected: k === kind }, name)));
  const form = el('form', { class: 'filters', id: 'horizon-form' },
    el('label', { for: 'horizon-since' }, 'Changes since'), sinceInput,
    el('label', { for: 'horizon-kind' }, 'Kind'), kindSelect,
    el('label', { for: 'horizon-baseline-weeks' }, 'Baseline weeks'), weeksInput,
    el('label', { for: 'horizon-fdr' }, 'False-discovery rate'), fdrInput,
    el('button', { type: 'submit' }, 'Scan'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const q = new URLSearchParams({ since: sinceInput.value });
    if (kindSelect.value) q.set('kind', kindSelect.value);
    if (weeksInput.value !== '52') q.set('baseline_weeks', weeksInput.value);
    if (fdrInput.value !== '0.05') q.set('fdr', fdrInput.value);
    location.hash = `#/horizon?${q}`;
  });
  const status = el('p', { class: 'muted', id: 'horizon-status', role: 'status' }, 'Scanning the stored declarations…');
  main.append(form, status);
  let r;
  try {
    r = await api.horizon(since, kind, baselineWeeks === '52' ? undefined : baselineWeeks,
      fdr === '0.05' ? undefined : fdr);
  } catch (e) {
    status.remove();
    main.append(errorBox(e, 'The horizon scan failed'));
    return null;
  }
  const tested = Object.values(r.tested || {}).reduce((a, b) => a + b, 0);
  status.textContent = `${fmtNumber(r.declarations)} declarations from ${r.from} to ${r.to}, ` +
    (r.scans !== undefined ? `${fmtNumber(r.scans)} X-ray scans, ` : '') +
    `${fmtNumber(tested)} series tested against ${r.baseline_weeks ?? 52} baseline weeks: ` +
    `${fmtNumber(r.signals.length)} signal${r.signals.length === 1 ? '' : 's'} ` +
    `at a false-discovery rate of ${fmtNumber(100 * (r.fdr ?? 0.05), 1)} % per kind (docs/horizon.md).`;
  if (!r.signals.length) {
    main.append(el('p', { id: 'horizon-none' }, 'Nothing has changed beyond what chance explains.'));
    return null;
  }
  const Chart = await loadChart();
  if (!Chart) main.append(el('p', { class: 'warn' }, 'The charts need Chart.js on the server (Debian package libjs-chart.js).'));
  const charts = [];
  const rows = r.signals.map((s) => {
    const cell = el('td', { class: 'horizon-chart' });
    if (Chart && s.rank <= CHARTS_PER_KIND && (s.series?.values || []).length) {
      const canvas = el('canvas', { width: '220', height: '60', role: 'img',
        'aria-label': `Weekly ${s.series.unit || 'values'} of ${seriesText(s.key)}; red from ${r.since}` });
      cell.append(canvas);
      charts.push(() => drawChart(Chart, canvas, s, r.since));
    }
    const draft = el('button', { type: 'button', class: 'draft-rule', disabled: ruleFields(s).length === 0,
      title: ruleFields(s).length ? undefined : 'A finding over every route has no declaration field to select' }, 'Draft a rule');
    draft.addEventListener('click', () => {
      sessionStorage.setItem(DRAFT_KEY, JSON.stringify({ text: draftRule(s), from: `${KIND_NAME[s.kind] || s.kind}: ${seriesText(s.key)}` }));
      location.hash = '#/rules';
    });
    return el('tr', { 'data-kind': s.kind, 'data-series': seriesText(s.key) },
      el('td', { class: 'num' }, String(s.rank)),
      el('td', {}, KIND_NAME[s.kind] || s.kind),
      el('th', { scope: 'row' }, seriesText(s.key), el('div', { class: 'muted small' }, s.summary)),
      el('td', { class: 'num' }, effectText(s)),
      el('td', { class: 'num' }, fmtSignificant(s.q_value, 2)),
      el('td', {}, s.first_date),
      cell,
      el('td', {}, draft));
  });
  main.append(el('table', { class: 'stats', id: 'horizon-signals' },
    el('caption', {}, `Signals since ${r.since}, strongest first within each kind`),
    el('thead', {}, el('tr', {}, ...['Rank', 'Kind', 'Series', 'Effect', 'q-value', 'From', `Weekly series (${r.since} on in red)`, '']
      .map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows)));
  const drawn = charts.map((draw) => draw());
  return () => drawn.forEach((c) => c.destroy());
}
