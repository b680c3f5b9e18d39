// The analyst's page: hit rates per rule, per evidence source and for the targeted selection,
// the random control sample against the targeted inspections, and decisions per channel
// (GET /api/stats).
import { api } from '../api.js';
import { registrySection, ruleTrendSection } from './analyst_learning.js';
import { channelBadge, downloadCsv, el, errorBox, fmtNumber, fmtPercent, fmtSignificant, setTitle, wilson } from '../ui.js';

function rateCell(confirmed, withOutcome) {
  if (!withOutcome) return el('td', { class: 'num muted' }, 'no outcomes yet');
  const ci = wilson(confirmed, withOutcome);
  return el('td', { class: 'num' }, el('strong', {}, fmtPercent(confirmed / withOutcome)),
    el('span', { class: 'muted small' }, ` (${confirmed}/${withOutcome}; 95 % CI ${fmtPercent(ci[0], 0)}–${fmtPercent(ci[1], 0)})`));
}

// The rate and its counts without the interval, where a table has two rate columns.
function shortRateCell(confirmed, withOutcome) {
  if (!withOutcome) return el('td', { class: 'num muted' }, 'no outcomes yet');
  return el('td', { class: 'num' }, el('strong', {}, fmtPercent(confirmed / withOutcome)),
    el('span', { class: 'muted small' }, ` (${confirmed}/${withOutcome})`));
}

function rateBar(confirmed, withOutcome) {
  const p = withOutcome ? confirmed / withOutcome : 0;
  return el('span', { class: 'share-bar', style: `--share:${100 * p}%`, 'aria-hidden': 'true' });
}

function controlSection(s) {
  const c = s.control_sample || {};
  const t = s.targeted_red || {};
  const rows = [
    ['Random control sample', c, 'Drawn uniformly at random from the red budget: estimates the rate among all consignments, without selection bias.'],
    ['Targeted (red, not control)', t, 'Chosen by the score: the model, valuation, rules and image findings together.'],
  ];
  const lift = s.lift;
  return el('div', { id: 'control-stats' },
    el('table', { class: 'stats' },
      el('caption', {}, `Control sample share of the red budget: ${fmtPercent(c.share_of_red_budget ?? NaN, 0)}`),
      el('thead', {}, el('tr', {}, ...['Group', 'Decisions', 'With outcome', 'Confirmed', 'Hit rate', ''].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows.map(([name, r, why]) => el('tr', { 'data-group': name.startsWith('Random') ? 'control' : 'targeted' },
        el('th', { scope: 'row' }, name, el('div', { class: 'muted small' }, why)),
        el('td', { class: 'num' }, fmtNumber(r.decisions)), el('td', { class: 'num' }, fmtNumber(r.with_outcome)),
        el('td', { class: 'num' }, fmtNumber(r.confirmed)), rateCell(r.confirmed || 0, r.with_outcome || 0),
        el('td', {}, rateBar(r.confirmed || 0, r.with_outcome || 0)))))),
    el('p', { class: 'lift' }, lift != null
      ? `Targeting finds ${fmtNumber(lift, 2)} × as many cases per inspection as random selection.`
      : 'The lift of targeting over random selection needs confirmed outcomes in both groups.'),
    estimatesText(s.estimates));
}

// What the control sample says about the consignments not inspected (GET /api/stats, estimates).
function estimatesText(e) {
  if (!e) return '';
  const range = (x, digits) => `${fmtNumber(x.value, digits)} (95 % CI ${fmtNumber(x.ci95[0], digits)}–${fmtNumber(x.ci95[1], digits)})`;
  if (!e.fraud_rate) return el('p', { class: 'muted', id: 'control-estimates' }, `No estimate for the consignments not inspected: ${e.reason}.`);
  const parts = [`From the control sample (${fmtNumber(e.confirmed)} found in ${fmtNumber(e.outcomes)} random inspections): `,
    `about ${fmtPercent(e.fraud_rate.value, 1)} of all consignments (95 % CI ${fmtPercent(e.fraud_rate.ci95[0], 1)}–${fmtPercent(e.fraud_rate.ci95[1], 1)}) hold a case, `,
    `so an estimated ${range(e.missed_frauds, 0)} cases are among the ${fmtNumber(e.not_inspected)} consignments not inspected`];
  parts.push(e.missed_revenue
    ? `, with ${range(e.missed_revenue, 0)} ${e.missed_revenue.currency} of revenue not recovered.`
    : ` (no revenue estimate: ${e.reason}).`);
  return el('p', { id: 'control-estimates' }, parts.join(''));
}

function rulesSection(s) {
  const rules = s.rules?.rules || [];
  if (!rules.length) return el('p', { class: 'muted', id: 'rule-stats' }, 'No rule profile is installed.');
  return el('table', { class: 'stats', id: 'rule-stats' },
    el('caption', {}, `Rule profile version ${s.rules.version}`),
    el('thead', {}, el('tr', {}, ...['Rule', 'Action', 'Hits', 'With outcome', 'Confirmed', 'Hit rate', ''].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rules.map((r) => el('tr', { 'data-rule': r.name },
      el('th', { scope: 'row' }, el('code', {}, r.name), r.active === false ? el('span', { class: 'muted small' }, ' (earlier version)') : null,
        r.reason ? el('div', { class: 'muted small' }, r.reason) : null),
      el('td', {}, r.action || '—'),
      el('td', { class: 'num' }, fmtNumber(r.hits)), el('td', { class: 'num' }, fmtNumber(r.with_outcome)),
      el('td', { class: 'num' }, fmtNumber(r.confirmed)), rateCell(r.confirmed || 0, r.with_outcome || 0),
      el('td', {}, rateBar(r.confirmed || 0, r.with_outcome || 0))))));
}

function channelSection(s) {
  const byChannel = {};
  for (const c of s.channels || []) {
    const k = c.channel;
    byChannel[k] ||= { decisions: 0, with_outcome: 0, confirmed: 0, control: 0 };
    byChannel[k].decisions += c.decisions;
    byChannel[k].with_outcome += c.with_outcome;
    byChannel[k].confirmed += c.confirmed;
    if (c.control) byChannel[k].control += c.decisions;
  }
  const total = s.decisions || Object.values(byChannel).reduce((a, b) => a + b.decisions, 0);
  return el('table', { class: 'stats', id: 'channel-stats' },
    el('caption', {}, `${fmtNumber(total)} decisions in all`),
    el('thead', {}, el('tr', {}, ...['Channel', 'Decisions', 'Share', 'Of them control', 'With outcome', 'Confirmed', 'Hit rate'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, ['red', 'yellow', 'green'].map((ch) => {
      const r = byChannel[ch] || { decisions: 0, with_outcome: 0, confirmed: 0, control: 0 };
      return el('tr', { 'data-channel': ch },
        el('th', { scope: 'row' }, channelBadge(ch)),
        el('td', { class: 'num', 'data-count': ch }, fmtNumber(r.decisions)),
        el('td', { class: 'num' }, total ? fmtPercent(r.decisions / total) : '—'),
        el('td', { class: 'num' }, fmtNumber(r.control)),
        el('td', { class: 'num' }, fmtNumber(r.with_outcome)), el('td', { class: 'num' }, fmtNumber(r.confirmed)),
        rateCell(r.confirmed, r.with_outcome));
    })));
}

const SOURCE_TEXT = {
  model: 'Risk model', valuation: 'Valuation', rules: 'Rules', xray: 'X-ray analysis',
  detector: 'Threat detector', manifest: 'Manifest check', none: 'No evidence',
};

const SOURCE_ORDER = ['model', 'valuation', 'rules', 'xray', 'detector', 'manifest', 'none'];

function modelSection(s) {
  const items = [];
  if (s.model) items.push(['Risk model', `${s.model.baseline ? 'baseline' : 'gradient-boosted trees'}, ${fmtNumber(s.model.features)} features`]);
  else items.push(['Risk model', 'none loaded']);
  items.push(['Valuation', s.valuation ? `${fmtNumber(s.valuation.groups)} reference groups, flag threshold ${fmtSignificant(s.valuation.flag_threshold, 3)}` : 'none loaded']);
  items.push(['Image calibration', s.calibration ? 'loaded: scans are analysed' : 'none: scans are stored and shown, not analysed']);
  items.push(['Threat detector', s.detector
    ? `${fmtNumber(s.detector.threat_classes.length)} threat classes, ${fmtNumber(s.detector.parameters)} parameters${s.detector.manifest ? ', with the manifest check' : ''}${s.detector.points === 'unseen_scanner' ? '; this scanner is not one it knows: strict points hold the alarms down and find little until the detector is set on this site (xray adapt)' : ''}`
    : 'none loaded: scans get material analysis only']);
  return el('div', { id: 'model-stats' }, el('dl', { class: 'kv' }, items.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])));
}

// Hit rate per evidence source (GET /api/stats `sources`): over the consignments whose decision
// had a reason from the source, and over those where it gave the strongest reason.
function sourcesSection(s) {
  const rank = (k) => (SOURCE_ORDER.includes(k) ? SOURCE_ORDER.indexOf(k) : 99);
  const sources = [...(s.sources || [])].sort((a, b) => rank(a.source) - rank(b.source) || String(a.source).localeCompare(String(b.source)));
  if (!sources.length) return el('p', { class: 'muted', id: 'source-stats' }, 'The service reports no evidence sources yet.');
  return el('table', { class: 'stats', id: 'source-stats' },
    el('caption', {}, 'Consignments with an outcome, by where their reasons came from. A consignment counts under every source that gave it a reason, and once more under the source of its strongest reason.'),
    el('thead', {},
      el('tr', {}, el('th', { scope: 'col', rowspan: '2' }, 'Evidence source'),
        el('th', { scope: 'colgroup', colspan: '5' }, 'Any reason from it'),
        el('th', { scope: 'colgroup', colspan: '3' }, 'Its strongest reason')),
      el('tr', {}, ...['With outcome', 'Of them control', 'Confirmed', 'Hit rate', '', 'With outcome', 'Confirmed', 'Hit rate']
        .map((h) => el('th', { scope: 'col' }, h || el('span', { class: 'visually-hidden' }, 'Hit rate bar'))))),
    el('tbody', {}, sources.map((r) => {
      const st = r.strongest || {};
      return el('tr', { 'data-source': r.source },
        el('th', { scope: 'row' }, SOURCE_TEXT[r.source] || r.source),
        el('td', { class: 'num' }, fmtNumber(r.with_outcome)), el('td', { class: 'num' }, fmtNumber(r.control)),
        el('td', { class: 'num' }, fmtNumber(r.confirmed)), rateCell(r.confirmed || 0, r.with_outcome || 0),
        el('td', {}, rateBar(r.confirmed || 0, r.with_outcome || 0)),
        el('td', { class: 'num' }, fmtNumber(st.with_outcome)), el('td', { class: 'num' }, fmtNumber(st.confirmed)),
        shortRateCell(st.confirmed || 0, st.with_outcome || 0));
    })));
}

// Hit rates per office, HS chapter and origin (GET /api/stats `groups`): the random control
// sample's, which estimates the rate among all consignments of the group, beside the targeted
// inspections'; a group with too few outcomes says so instead of showing a rate.
const GROUP_TITLES = { office: 'Office', hs_chapter: 'HS chapter', origin: 'Origin' };
const GROUP_ROWS = 15;

function groupRate(x, minimum) {
  if (x.hit_rate == null) {
    return el('td', { class: 'num muted', 'data-rate': 'none' },
      x.with_outcome ? `too few outcomes (${x.with_outcome} of ${minimum})` : 'no outcomes');
  }
  return el('td', { class: 'num', 'data-rate': String(x.hit_rate) }, el('strong', {}, fmtPercent(x.hit_rate)),
    el('span', { class: 'muted small' }, ` (${x.confirmed}/${x.with_outcome}; 95 % CI ${fmtPercent(x.ci95[0], 0)}–${fmtPercent(x.ci95[1], 0)})`));
}

function groupsSection(s) {
  const groups = s.groups || {};
  const minimum = s.min_outcomes_for_a_rate;
  return el('div', { id: 'group-stats', class: 'group-grid' }, Object.keys(GROUP_TITLES).map((by) => {
    const rows = (groups[by] || []).slice(0, GROUP_ROWS);
    return el('table', { class: 'stats compact', 'data-by': by },
      el('caption', {}, `By ${GROUP_TITLES[by].toLowerCase()}: the ${rows.length} with most decisions`),
      el('thead', {}, el('tr', {}, ...[GROUP_TITLES[by], 'Decisions', 'Control sample', 'Targeted red', 'Lift'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows.map((g) => el('tr', { 'data-group': g.group },
        el('th', { scope: 'row' }, g.group || el('span', { class: 'muted' }, '(none)')),
        el('td', { class: 'num' }, fmtNumber(g.decisions)),
        groupRate(g.control, minimum), groupRate(g.targeted, minimum),
        el('td', { class: 'num' }, g.lift == null ? '—' : `${fmtNumber(g.lift, 2)} ×`)))));
  }));
}

// Rules, evidence sources and the control sample in one CSV: group, name, decisions or hits,
// with outcome, confirmed, hit rate and its 95 % Wilson interval.
function exportStats(s) {
  const rows = [];
  const add = (group, name, n, withOutcome, confirmed) => {
    const ci = withOutcome ? wilson(confirmed, withOutcome) : [null, null];
    rows.push([group, name, n, withOutcome, confirmed, withOutcome ? (confirmed / withOutcome).toFixed(4) : '', ci[0]?.toFixed(4) ?? '', ci[1]?.toFixed(4) ?? '']);
  };
  for (const r of s.rules?.rules || []) add('rule', r.name, r.hits, r.with_outcome || 0, r.confirmed || 0);
  for (const x of s.sources || []) add('source', x.source, x.with_outcome || 0, x.with_outcome || 0, x.confirmed || 0);
  const c = s.control_sample || {};
  const t = s.targeted_red || {};
  add('selection', 'control sample', c.decisions, c.with_outcome || 0, c.confirmed || 0);
  add('selection', 'targeted red', t.decisions, t.with_outcome || 0, t.confirmed || 0);
  downloadCsv(`statistics-${new Date().toISOString().slice(0, 10)}.csv`,
    ['group', 'name', 'decisions_or_hits', 'with_outcome', 'confirmed', 'hit_rate', 'ci95_low', 'ci95_high'], rows);
}

export async function render(main, ctx) {
  setTitle('Analyst');
  const body = el('div', { class: 'analyst-grid' }, el('p', { class: 'muted' }, 'Loading…'));
  const updated = el('p', { class: 'muted small', 'aria-live': 'polite' });
  // Rules over time and the model registry, below the hit rates; loaded with the page and by
  // Refresh (not by the timer: a chart is not redrawn under the analyst's pointer).
  const learning = el('div', { class: 'analyst-grid' });
  const trend = ruleTrendSection();
  const registry = registrySection();
  main.append(el('section', { class: 'analyst-page' },
    el('div', { class: 'page-head' }, el('h1', {}, 'Hit rates and the control sample'),
      el('button', { type: 'button', onclick: () => { load(); trend.load(); registry.load(); } }, 'Refresh')), updated, body, learning));
  if (!ctx.isAnalyst()) {
    body.replaceChildren(el('p', { class: 'error-box', role: 'alert' }, 'This page is for analysts and administrators.'));
    return;
  }
  learning.append(trend.section, registry.section);
  async function load() {
    let s;
    try {
      s = await api.stats();
    } catch (e) {
      body.replaceChildren(errorBox(e, 'The statistics could not be loaded'));
      return;
    }
    body.replaceChildren(
      el('section', { class: 'card wide', 'aria-labelledby': 'h-control' }, el('h2', { id: 'h-control' }, 'Control sample against targeted inspections'), controlSection(s)),
      el('section', { class: 'card', 'aria-labelledby': 'h-channels' }, el('h2', { id: 'h-channels' }, 'Decisions per channel'), channelSection(s)),
      el('section', { class: 'card', 'aria-labelledby': 'h-model' }, el('h2', { id: 'h-model' }, 'Models loaded'), modelSection(s)),
      el('section', { class: 'card wide', 'aria-labelledby': 'h-sources' }, el('h2', { id: 'h-sources' }, 'Hit rate per evidence source'), sourcesSection(s)),
      el('section', { class: 'card wide', 'aria-labelledby': 'h-groups' }, el('h2', { id: 'h-groups' }, 'Hit rates by office, HS chapter and origin'),
        el('p', { class: 'muted small' }, `The control sample is drawn at random, so its rate estimates the rate among all of a group's consignments; a rate needs at least ${s.min_outcomes_for_a_rate} outcomes.`),
        groupsSection(s)),
      el('section', { class: 'card wide', 'aria-labelledby': 'h-rules' }, el('h2', { id: 'h-rules' }, 'Rule hit rates'), rulesSection(s),
        el('button', { type: 'button', id: 'export-rules', onclick: () => exportStats(s) }, 'Export statistics (CSV)')));
    updated.textContent = `Updated ${new Date().toLocaleTimeString('en-GB')}. A hit is an inspection outcome other than “nothing found”.`;
  }
  await Promise.all([load(), trend.load(), registry.load()]);
  const timer = setInterval(() => { if (!document.hidden) load(); }, 30000);
  return () => {
    clearInterval(timer);
    trend.destroy();
  };
}
