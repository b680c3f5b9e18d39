// The analyst page's learning-from-outcomes parts: targeted inspections against the random control
// sample week by week with the lift of targeting, rules over time (GET /api/rules/stats) as a
// Chart.js plot of one rule's weekly hits and precision with the rules flagged for attention, and
// the model registry (GET /api/models) with promote and rollback (docs/api.md, Model registry).
import { api } from '../api.js';
import { loadChart } from './horizon.js';
import { el, errorBox, fmtNumber, fmtPercent, fmtSignificant, fmtTime } from '../ui.js';

const FLAG_TEXT = {
  stopped_hitting: 'stopped hitting (no hit in the last two weeks)',
  below_control: 'precision below the control sample’s hit rate',
};
const WEEK_CHOICES = [8, 12, 26, 52];

function precisionText(x) {
  if (x?.precision == null) return '—';
  return `${fmtPercent(x.precision, 0)} (95 % CI ${fmtPercent(x.ci95[0], 0)}–${fmtPercent(x.ci95[1], 0)})`;
}

function drawRuleChart(Chart, canvas, stats, rule) {
  const pct = (v) => (v == null ? null : 100 * v);
  const controlRate = stats.control?.total?.precision;
  const datasets = [
    { type: 'bar', label: 'Hits', data: rule.weeks.map((w) => w.hits), yAxisID: 'count', backgroundColor: '#93c5fd', order: 3 },
    { type: 'bar', label: 'Inspected', data: rule.weeks.map((w) => w.inspected), yAxisID: 'count', backgroundColor: '#2563eb', order: 3 },
    { type: 'bar', label: 'Confirmed', data: rule.weeks.map((w) => w.confirmed), yAxisID: 'count', backgroundColor: '#b91c1c', order: 3 },
    { type: 'line', label: 'Precision (%)', data: rule.weeks.map((w) => pct(w.precision)), yAxisID: 'rate',
      borderColor: '#111827', backgroundColor: '#111827', pointRadius: 3, spanGaps: false, order: 1 },
    { type: 'line', label: '95 % interval', data: rule.weeks.map((w) => pct(w.ci95?.[1])), yAxisID: 'rate',
      borderWidth: 0, pointRadius: 0, spanGaps: false, order: 2 },
    { type: 'line', label: '95 % interval (low)', data: rule.weeks.map((w) => pct(w.ci95?.[0])), yAxisID: 'rate',
      borderWidth: 0, pointRadius: 0, spanGaps: false, fill: '-1', backgroundColor: 'rgba(17, 24, 39, 0.12)', order: 2 },
  ];
  if (controlRate != null) {
    datasets.push({ type: 'line', label: 'Control sample hit rate (%)', data: rule.weeks.map(() => 100 * controlRate), yAxisID: 'rate',
      borderColor: '#6b7280', borderDash: [6, 4], borderWidth: 1.5, pointRadius: 0, order: 1 });
  }
  return new Chart(canvas, {
    data: { labels: stats.weeks, datasets },
    options: {
      animation: false,
      responsive: false,
      plugins: { legend: { labels: { filter: (item) => item.text !== '95 % interval (low)' } } },
      scales: {
        count: { type: 'linear', position: 'left', beginAtZero: true, title: { display: true, text: 'consignments a week' }, ticks: { precision: 0 } },
        rate: { type: 'linear', position: 'right', min: 0, max: 100, title: { display: true, text: 'precision (%)' }, grid: { drawOnChartArea: false } },
      },
    },
  });
}

// Targeted inspections against the random control sample, week by week: both hit rates with their
// 95 % bands, and the lift of targeting over the window so far with its band.
function drawTargetingChart(Chart, canvas, stats) {
  const pct = (v) => (v == null ? null : 100 * v);
  const t = stats.targeted.weeks;
  const c = stats.control.weeks;
  const band = (weeks, side) => weeks.map((w) => pct(w.ci95?.[side]));
  const datasets = [
    { label: 'Targeted hit rate (%)', data: t.map((w) => pct(w.precision)), yAxisID: 'rate', borderColor: '#b91c1c', backgroundColor: '#b91c1c', pointRadius: 3 },
    { label: 'targeted band', data: band(t, 1), yAxisID: 'rate', borderWidth: 0, pointRadius: 0 },
    { label: 'targeted band (low)', data: band(t, 0), yAxisID: 'rate', borderWidth: 0, pointRadius: 0, fill: '-1', backgroundColor: 'rgba(185, 28, 28, 0.12)' },
    { label: 'Control sample hit rate (%)', data: c.map((w) => pct(w.precision)), yAxisID: 'rate', borderColor: '#2563eb', backgroundColor: '#2563eb', pointRadius: 3 },
    { label: 'control band', data: band(c, 1), yAxisID: 'rate', borderWidth: 0, pointRadius: 0 },
    { label: 'control band (low)', data: band(c, 0), yAxisID: 'rate', borderWidth: 0, pointRadius: 0, fill: '-1', backgroundColor: 'rgba(37, 99, 235, 0.12)' },
    { label: 'Lift so far (×)', data: t.map((w) => w.lift_so_far?.value ?? null), yAxisID: 'lift', borderColor: '#111827', backgroundColor: '#111827', borderDash: [6, 3], pointRadius: 2 },
    { label: 'lift band', data: t.map((w) => w.lift_so_far?.ci95[1] ?? null), yAxisID: 'lift', borderWidth: 0, pointRadius: 0 },
    { label: 'lift band (low)', data: t.map((w) => w.lift_so_far?.ci95[0] ?? null), yAxisID: 'lift', borderWidth: 0, pointRadius: 0, fill: '-1', backgroundColor: 'rgba(17, 24, 39, 0.10)' },
  ];
  return new Chart(canvas, {
    type: 'line',
    data: { labels: stats.weeks, datasets },
    options: {
      animation: false,
      responsive: false,
      spanGaps: false,
      plugins: { legend: { labels: { filter: (item) => !/band/.test(item.text) } } },
      scales: {
        rate: { type: 'linear', position: 'left', min: 0, max: 100, title: { display: true, text: 'hit rate (%)' } },
        lift: { type: 'linear', position: 'right', beginAtZero: true, title: { display: true, text: 'lift (×)' }, grid: { drawOnChartArea: false } },
      },
    },
  });
}

function weeksTable(rule) {
  return el('table', { class: 'stats compact', id: 'rule-weeks', 'data-rule': rule.name },
    el('caption', {}, `Rule ${rule.name}, week by week (weeks start on Monday)`),
    el('thead', {}, el('tr', {}, ...['Week', 'Hits', 'Inspected', 'Confirmed', 'Precision'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rule.weeks.map((w) => el('tr', { 'data-week': w.week },
      el('th', { scope: 'row' }, w.week),
      el('td', { class: 'num' }, fmtNumber(w.hits)), el('td', { class: 'num' }, fmtNumber(w.inspected)),
      el('td', { class: 'num' }, fmtNumber(w.confirmed)), el('td', { class: 'num' }, precisionText(w))))));
}

// Rules over time: a rule selector, its chart and its weeks, and the flagged rules.
export function ruleTrendSection() {
  const ruleSelect = el('select', { id: 'rule-trend-rule' });
  const weeksSelect = el('select', { id: 'rule-trend-weeks' },
    WEEK_CHOICES.map((n) => el('option', { value: String(n), selected: n === 12 }, `${n} weeks`)));
  const flags = el('div', { id: 'rule-flags' });
  const targeting = el('div', { class: 'targeting-chart', id: 'targeting' });
  const holder = el('div', { class: 'rule-trend-chart' });
  const status = el('p', { class: 'muted small', role: 'status' });
  const section = el('section', { class: 'card wide', 'aria-labelledby': 'h-rule-trend', id: 'rule-trend' },
    el('h2', { id: 'h-rule-trend' }, 'Rules over time'),
    el('div', { class: 'filters' },
      el('label', { for: 'rule-trend-rule' }, 'Rule'), ruleSelect,
      el('label', { for: 'rule-trend-weeks' }, 'Window'), weeksSelect),
    status, targeting, flags, holder);
  let stats = null;
  let chart = null;
  let targetingChart = null;

  async function drawTargeting() {
    targetingChart?.destroy();
    targetingChart = null;
    const Chart = await loadChart();
    const last = stats?.targeted?.weeks?.slice(-1)[0]?.lift_so_far;
    const caption = el('p', { class: 'muted small', id: 'targeting-caption' }, last
      ? `Targeted inspections against the random control sample; lift over the window ${fmtNumber(last.value, 2)} × (95 % CI ${fmtNumber(last.ci95[0], 2)}–${fmtNumber(last.ci95[1], 2)}).`
      : `Targeted inspections against the random control sample; the lift needs ${stats?.min_outcomes_for_a_rate ?? 10} control outcomes and a confirmed case on both sides.`);
    if (!Chart || !stats?.to) {
      targeting.replaceChildren(caption);
      return;
    }
    const canvas = el('canvas', { id: 'targeting-chart', width: '900', height: '240', role: 'img',
      'aria-label': 'Weekly hit rates of targeted inspections and of the random control sample with their 95 % bands, and the lift of targeting so far' });
    targeting.replaceChildren(el('h3', {}, 'Targeted against random, week by week'), canvas, caption);
    targetingChart = drawTargetingChart(Chart, canvas, stats);
  }

  async function draw() {
    chart?.destroy();
    chart = null;
    const rule = stats?.rules.find((r) => r.name === ruleSelect.value);
    if (!rule) {
      holder.replaceChildren(el('p', { class: 'muted' }, 'No rule has hits or is installed.'));
      return;
    }
    const Chart = await loadChart();
    const parts = [];
    if (!Chart) parts.push(el('p', { class: 'warn' }, 'The chart needs Chart.js on the server (Debian package libjs-chart.js).'));
    const canvas = Chart ? el('canvas', { id: 'rule-trend-chart', width: '900', height: '280', role: 'img',
      'aria-label': `Weekly hits, inspected and confirmed hits and precision of rule ${rule.name}; the table below has the numbers` }) : null;
    holder.replaceChildren(...parts, canvas || '', weeksTable(rule));
    if (Chart) chart = drawRuleChart(Chart, canvas, stats, rule);
  }

  async function load() {
    try {
      stats = await api.ruleStats(weeksSelect.value);
    } catch (e) {
      holder.replaceChildren(errorBox(e, 'The rules over time could not be loaded'));
      return;
    }
    const chosen = ruleSelect.value;
    ruleSelect.replaceChildren(...stats.rules.map((r) => el('option', { value: r.name, selected: r.name === chosen },
      `${r.name}${r.active ? '' : ' (earlier profile)'}${r.flags.length ? ' ⚑' : ''}`)));
    const c = stats.control?.total;
    status.textContent = stats.to
      ? `${stats.weeks.length} weeks up to ${stats.to}, the newest decision. Control sample over the window: ` +
        (c?.precision != null ? `${precisionText(c)} of ${fmtNumber(c.inspected)} outcomes.`
          : `too few outcomes for a rate (${fmtNumber(c?.inspected || 0)} of ${stats.min_outcomes_for_a_rate}).`)
      : 'Nothing has been decided yet.';
    const flagged = stats.rules.filter((r) => r.flags.length);
    flags.replaceChildren(flagged.length
      ? el('ul', { class: 'rule-flags' }, flagged.map((r) => el('li', { 'data-rule': r.name },
        el('code', {}, r.name), ': ', r.flags.map((f) => FLAG_TEXT[f] || f).join('; '))))
      : el('p', { class: 'muted small' }, 'No rule is flagged: none stopped hitting, none is below the control sample’s rate.'));
    await drawTargeting();
    await draw();
  }

  ruleSelect.addEventListener('change', draw);
  weeksSelect.addEventListener('change', load);
  return { section, load, destroy: () => { chart?.destroy(); targetingChart?.destroy(); } };
}

// ---- The model registry ----

// The control-sample figures of a `model retrain` report, else the metrics' plain numbers.
function metricsText(m) {
  const c = m?.candidate?.control;
  if (c?.auc) {
    const auc = `AUC ${fmtSignificant(c.auc.value, 3)} (${fmtSignificant(c.auc.low, 3)}–${fmtSignificant(c.auc.high, 3)})`;
    const p = c.precision_at_budget ? `, precision at budget ${fmtPercent(c.precision_at_budget.value, 0)}` : '';
    return `${auc}${p} on ${fmtNumber(c.rows)} control outcomes after the cut-off`;
  }
  const plain = Object.entries(m || {}).filter(([, v]) => typeof v === 'number').slice(0, 4);
  return plain.length ? plain.map(([k, v]) => `${k} ${fmtSignificant(v, 3)}`).join(', ') : '—';
}

const STATUS_TEXT = { live: 'Live', candidate: 'Candidate', retired: 'Retired', rejected: 'Rejected' };

export function registrySection() {
  const body = el('div', {}, el('p', { class: 'muted' }, 'Loading…'));
  const message = el('p', { id: 'model-registry-message', role: 'status', 'aria-live': 'polite' });
  const section = el('section', { class: 'card wide', 'aria-labelledby': 'h-registry', id: 'model-registry-card' },
    el('h2', { id: 'h-registry' }, 'Model registry'),
    el('p', { class: 'muted small' }, 'Every version of the risk model with its training cut-off, metrics and who made it live. ' +
      'A promotion or rollback is swapped into the running service at once and is audited.'),
    message, body);

  async function act(what, fn) {
    message.className = '';
    try {
      await fn();
      message.textContent = what;
    } catch (e) {
      message.replaceChildren(errorBox(e, 'The registry was not changed'));
    }
    await load();
  }

  function actions(m, r) {
    const out = [];
    if (m.status === 'candidate' || m.status === 'retired') {
      out.push(el('button', { type: 'button', class: 'model-promote', 'data-version': String(m.version),
        onclick: () => {
          if (!confirm(`Make model version ${m.version} live? It replaces version ${r.live ?? '(none)'} for every decision from now on.`)) return;
          act(`Model version ${m.version} is live.`, () => api.promoteModel(m.version, 'promoted on the analyst page'));
        } }, 'Promote'));
    }
    if (m.status === 'live' && m.previous_live != null) {
      out.push(el('button', { type: 'button', class: 'model-rollback', 'data-version': String(m.version),
        onclick: () => {
          if (!confirm(`Roll back model version ${m.version}? It is rejected and version ${m.previous_live} is live again.`)) return;
          act(`Model version ${m.version} was rolled back; version ${m.previous_live} is live again.`, () => api.rollbackModel('rolled back on the analyst page'));
        } }, 'Roll back'));
    }
    return out;
  }

  async function load() {
    let r;
    try {
      r = await api.models();
    } catch (e) {
      body.replaceChildren(errorBox(e, 'The model registry could not be loaded'));
      return;
    }
    if (!r.models.length) {
      body.replaceChildren(el('p', { class: 'muted', id: 'model-registry' }, 'No model version is registered.'));
      return;
    }
    const rows = [...r.models].reverse();  // newest first
    body.replaceChildren(
      r.serving_error ? el('p', { class: 'warn' }, r.serving_error) : '',
      el('table', { class: 'stats', id: 'model-registry' },
        el('caption', {}, `Live: ${r.live != null ? `version ${r.live}` : 'none'}; this service serves ${r.serving != null ? `version ${r.serving}` : 'no registered model'}`),
        el('thead', {}, el('tr', {}, ...['Version', 'Status', 'Training data', 'Parent', 'Metrics', 'Registered', 'Made live', 'Reason', 'Actions']
          .map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, rows.map((m) => el('tr', { 'data-version': String(m.version), 'data-status': m.status },
          el('th', { scope: 'row' }, `v${m.version}`),
          el('td', { 'data-col': 'status' }, el('span', { class: `badge model-${m.status}` }, STATUS_TEXT[m.status] || m.status),
            m.serving ? el('span', { class: 'muted small' }, ' · serving') : ''),
          el('td', { 'data-col': 'training' }, m.training?.cutoff ? `${m.training.from || '…'} to ${m.training.cutoff}` : 'cut-off unknown',
            m.training?.rows != null ? el('div', { class: 'muted small' }, `${fmtNumber(m.training.rows)} rows`) : ''),
          el('td', { 'data-col': 'parent' }, m.parent_version != null ? `v${m.parent_version}` : '—'),
          el('td', { 'data-col': 'metrics', class: 'small' }, metricsText(m.metrics)),
          el('td', { 'data-col': 'created' }, m.created_by, el('div', { class: 'muted small' }, fmtTime(m.created_at))),
          el('td', { 'data-col': 'promoted' }, m.promoted_by || '—', m.promoted_at ? el('div', { class: 'muted small' }, fmtTime(m.promoted_at)) : ''),
          el('td', { 'data-col': 'reason', class: 'small' }, m.reason || '—'),
          el('td', { 'data-col': 'actions' }, ...actions(m, r)))))));
  }

  return { section, load };
}
