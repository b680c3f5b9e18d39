// One consignment: the decision with every reason (source and weight), every rule hit, the
// valuation figures each declaration was assessed with, the declaration, the scan viewer for
// each scan, and the outcome form with the outcomes so far.
import { api } from '../api.js';
import { channelBadge, el, errorBox, fmtMoney, fmtNumber, fmtPercent, fmtTime, setTitle, statusBadge } from '../ui.js';
import { ScanViewer } from '../viewer/viewer.js';
import { overBudgetTag } from './queue.js';
import { loadScanData } from '../viewer/source.js';

export const OUTCOMES = [
  ['nothing', 'Nothing found'],
  ['narcotics', 'Narcotics'],
  ['weapon', 'Weapon'],
  ['cigarettes', 'Cigarettes / tobacco'],
  ['currency', 'Currency'],
  ['undervaluation', 'Under-valuation'],
  ['misdeclaration', 'Mis-declared goods'],
  ['lithium_batteries', 'Lithium batteries'],
  ['counterfeit', 'Counterfeit goods'],
  ['other', 'Other (describe in the note)'],
  ['not_inspected', 'Not inspected (say why)'],
];
const OUTCOME_TEXT = Object.fromEntries(OUTCOMES);
// The key that chooses each outcome: 1..9, then 0 for the tenth, x for not inspected.
const OUTCOME_KEYS = OUTCOMES.map(([v], i) => (v === 'not_inspected' ? 'x' : String((i + 1) % 10)));
// Units a seizure is counted in (the API's list), and reasons often given for no inspection.
const SEIZED_UNITS = [['kg', 'kg'], ['g', 'g'], ['l', 'litres'], ['ml', 'ml'], ['pieces', 'pieces'], ['sticks', 'sticks'], ['packets', 'packets'], ['cartons', 'cartons']];
const NOT_INSPECTED_REASONS = ['No inspection capacity left on the shift', 'Consignment not presented', 'Released on a supervisor\'s order', 'Scanner or inspection bay out of service'];
// A photo of the find: what the service takes (docs/api.md, Outcomes).
const PHOTO_TYPES = ['image/jpeg', 'image/png'];
const PHOTO_MAX_BYTES = 10 * 1024 * 1024;
const AUTO_NEXT_KEY = 'cs-auto-next';

// The consignment after (step 1) or before (step -1) `id` in the queue the officer came from: the
// same filters, search and sort (cs-last-queue), read again now, so that one that left the filter
// (an outcome was just recorded) is not offered. Where the queue was last seen (cs-queue-window,
// {offset, ids}) says where `id` stood when it is no longer in it. Null when there is none.
export async function neighbourInQueue(id, step) {
  const hash = sessionStorage.getItem('cs-last-queue') || '#/queue';
  const params = new URLSearchParams(hash.split('?')[1] || '');
  const filters = {
    q: params.get('q') || '', over_budget: params.get('over_budget') || '', office: params.get('office') || '', channel: params.get('channel') || '',
    status: params.get('status') || 'pending', sort: params.get('sort') || '-score',
  };
  const known = JSON.parse(sessionStorage.getItem('cs-queue-window') || 'null');
  const knownAt = known?.ids ? known.ids.indexOf(id) : -1;
  const abs = knownAt >= 0 ? known.offset + knownAt : 0;
  const from = Math.max(0, abs - 50);
  const res = await api.queue({ ...filters, limit: 101, offset: from });
  const ids = (res.items || []).map((it) => it.consignment_id);
  sessionStorage.setItem('cs-queue-window', JSON.stringify({ offset: from, ids }));
  const at = ids.indexOf(id);
  if (at >= 0) return ids[at + step] ?? null;
  if (knownAt < 0) return step > 0 ? (ids[0] ?? null) : null;
  // It left the queue: the one now in its place came after it.
  const pos = abs - from;
  return (step > 0 ? ids[pos] : ids[pos - 1]) ?? null;
}

const POLL_MS = 5000;

const SOURCE_TEXT = {
  model: 'Risk model', valuation: 'Valuation', rules: 'Rule', xray: 'X-ray analysis',
  detector: 'Threat detector', manifest: 'Manifest check',
};

// The declaration fields in the order an officer reads them (docs/declarations.md).
const DECL_FIELDS = [
  ['declaration_id', 'Declaration'], ['date', 'Date'], ['office_id', 'Office'], ['importer_id', 'Importer'],
  ['declarant_id', 'Declarant'], ['seller_id', 'Seller'], ['courier_id', 'Courier'], ['hs_code', 'HS code'],
  ['description', 'Description'], ['origin_country', 'Origin'], ['departure_country', 'Departure'],
  ['mode_of_transport', 'Transport'], ['net_mass_kg', 'Net mass (kg)'], ['supplementary_units', 'Supplementary units'],
  ['declared_value', 'Declared value'], ['currency', 'Currency'], ['tax_rate', 'Tax rate (%)'],
];

function reasonsList(reasons, score) {
  const total = reasons.reduce((s, r) => s + (r.weight || 0), 0);
  if (!reasons.length) return el('p', { class: 'muted', id: 'reasons' }, 'No risk evidence: nothing raised the score.');
  return el('div', { id: 'reasons' },
    el('ol', { class: 'reasons' }, reasons.map((r) => el('li', { 'data-source': r.source, 'data-kind': r.kind },
      el('div', { class: 'reason-text' }, r.text),
      el('div', { class: 'reason-meta' },
        el('span', { class: `source source-${r.source}` }, SOURCE_TEXT[r.source] || r.source),
        el('span', { class: 'muted small' }, r.kind || ''),
        el('span', { class: 'weight' }, 'weight ', el('strong', {}, fmtNumber(r.weight, 3))),
        el('span', { class: 'share' }, el('span', { class: 'share-bar', style: `--share:${total ? (100 * r.weight) / total : 0}%`, 'aria-hidden': 'true' }),
          ` ${total ? fmtPercent(r.weight / total, 0) : '—'} of the evidence`)),
      r.details?.length ? el('ul', { class: 'details' }, r.details.map((d) => el('li', {}, d))) : null,
      r.box ? el('div', { class: 'muted small' }, `marked in the scan${r.scan_id ? ` ${r.scan_id}` : ''} at x ${r.box[0]}–${r.box[2]}, y ${r.box[1]}–${r.box[3]}`) : null))),
    el('p', { class: 'muted small' }, `Weights are evidence, −ln(1 − p) of each finding; they add up to ${fmtNumber(total, 3)}, and the score is 1 − e^−${fmtNumber(total, 3)} = ${fmtNumber(score, 3)}.`));
}

// Every rule that matched (GET /api/consignments/{id} `rule_hits`), with the analyst's reason,
// what the rule does and who owns it; `reasons` above keep only the strongest findings.
function ruleHits(c) {
  const hits = c.rule_hits
    || (c.assessments || []).flatMap((a) => (a.rule_hits || []).map((h) => ({ ...h, declaration_id: a.declaration_id })));
  if (!hits.length) return el('p', { class: 'muted', id: 'rule-hits' }, 'No analyst rule matched this consignment.');
  const several = new Set(hits.map((h) => h.declaration_id)).size > 1 || (c.declarations || []).length > 1;
  const inReasons = new Set((c.reasons || []).filter((r) => String(r.kind).startsWith('rule:')).map((r) => String(r.kind).slice(5)));
  return el('ul', { class: 'rule-hits', id: 'rule-hits' }, hits.map((h) => el('li', { 'data-rule': h.rule, 'data-declaration': h.declaration_id || '' },
    el('div', {}, el('code', { class: 'rule-name' }, h.rule),
      inReasons.has(h.rule) ? el('span', { class: 'muted small' }, ' · among the reasons') : null),
    h.reason ? el('div', { class: 'rule-reason' }, h.reason) : null,
    el('div', { class: 'reason-meta' },
      el('span', {}, 'does ', el('strong', { class: 'rule-action' }, h.action || '—')),
      el('span', {}, 'owner ', el('strong', { class: 'rule-owner' }, h.owner || '—')),
      several && h.declaration_id ? el('span', { class: 'muted small' }, `declaration ${h.declaration_id}`) : null))));
}

// What each declaration was assessed with (`assessments`): the valuation's figures as the
// service computed them (unit prices per kg or per supplementary unit, the reference's price
// group, the ratio, revenue at risk and the reason in words) and the model's probability.
function valuationSection(c) {
  const out = [];
  const assessments = new Map((c.assessments || []).map((a) => [a.declaration_id, a]));
  for (const d of c.declarations || []) {
    const a = assessments.get(d.declaration_id);
    const v = a?.valuation || null;
    const cur = v?.currency || d.currency;
    const per = v?.per === 'supplementary unit' ? 'per unit' : 'per kg';
    const rows = [['Declared value', fmtMoney(d.declared_value, d.currency)]];
    if (v) {
      rows.push(['Declared unit price', v.declared_unit_price != null ? `${fmtMoney(v.declared_unit_price, cur)} ${per}` : '—', 'declared']);
      rows.push(['Reference unit price', v.reference_unit_price != null
        ? `${fmtMoney(v.reference_unit_price, cur)} ${per}${v.level && v.level !== 'none' ? ` (${v.level})` : ''}` : 'none', 'reference']);
      rows.push(['Declared / reference', v.unit_price_ratio != null ? fmtPercent(v.unit_price_ratio, 0) : '—', 'ratio']);
      rows.push(['Under-valuation score', fmtNumber(v.undervaluation_score, 2), 'score']);
      rows.push(['Revenue at risk', v.revenue_at_risk != null ? fmtMoney(v.revenue_at_risk, cur) : '—', 'revenue']);
    } else {
      const unit = d.net_mass_kg > 0 ? d.declared_value / d.net_mass_kg : NaN;
      rows.push(['Declared unit price', Number.isFinite(unit) ? `${fmtMoney(unit, d.currency)} per kg` : '—', 'declared']);
    }
    if (a?.model_score != null) rows.push(['Risk model', `${fmtPercent(a.model_score, 0)} probability of fraud`, 'model']);
    const block = [el('dl', { class: 'kv valuation', 'data-declaration': d.declaration_id },
      rows.flatMap(([k, val, f]) => [el('dt', {}, k), el('dd', f ? { 'data-field': f } : {}, val)]))];
    if (v?.reason) {
      block.push(v.flagged
        ? el('ul', { class: 'valuation-flags' }, el('li', { class: 'flag' }, el('strong', {}, 'Flagged: '), v.reason))
        : el('p', { class: 'valuation-reason' }, `Not flagged: ${v.reason}`));
    } else if (!v) {
      block.push(el('p', { class: 'muted' }, a ? 'No valuation for this declaration (the server has no reference prices loaded).' : 'Not assessed yet.'));
    }
    if (a) {
      block.push(el('p', { class: 'muted small' }, a.basis === 'recomputed'
        ? `Assessed again with the models loaded now (this declaration was stored before assessments were kept)${a.rules_version ? `; rule profile version ${a.rules_version}` : ''}.`
        : `As assessed when it was decided${a.rules_version ? `, with rule profile version ${a.rules_version}` : ''}.`));
    }
    out.push(el('div', { class: 'valuation-decl', 'data-declaration': d.declaration_id },
      (c.declarations || []).length > 1 ? el('h3', {}, `Declaration ${d.declaration_id}`) : null, block));
  }
  if (!out.length) out.push(el('p', { class: 'muted' }, 'No declaration, so no valuation.'));
  return el('div', { id: 'valuation' }, out);
}

function declarationSection(decls) {
  if (!decls.length) return el('p', { class: 'muted' }, 'No declaration has arrived for this consignment yet; the decision rests on the scan alone.');
  return el('div', {}, decls.map((d) => {
    const rows = DECL_FIELDS.filter(([k]) => d[k] !== undefined && d[k] !== null && d[k] !== '')
      .map(([k, label]) => [label, typeof d[k] === 'number' ? fmtNumber(d[k], k === 'declared_value' ? 2 : k === 'net_mass_kg' ? 3 : 0) : String(d[k])]);
    const known = new Set(DECL_FIELDS.map(([k]) => k));
    for (const [k, v] of Object.entries(d)) {
      if (!known.has(k) && v !== null && v !== '' && typeof v !== 'object' && !['consignment_id', 'inspected', 'fraud', 'critical', 'revenue_recovered'].includes(k)) rows.push([k, String(v)]);
    }
    return el('dl', { class: 'kv declaration', 'data-declaration': d.declaration_id }, rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-field': k }, v)]));
  }));
}

// A postal item or express consignment (postal EAD, H7): its identifier (an S10 id such as
// RR123456785GB, or a transport document), what kind of item it is, where it goes from and to,
// and its content pieces, which are the consignment's declarations (docs/declarations.md).
const S10 = /^[A-Z]{2}\d{9}[A-Z]{2}$/i;
const CATEGORY_TEXT = {
  gift: 'Gift', documents: 'Documents', commercial_sample: 'Commercial sample', sale_of_goods: 'Sale of goods',
  returned_goods: 'Returned goods', other: 'Other',
};

export function itemIdOf(decls) {
  return (decls || []).map((d) => d.item_id).find((v) => v) || '';
}

function itemSection(c) {
  const decls = c.declarations || [];
  const first = decls.find((d) => d.item_id);
  if (!first) return null;
  const itemId = first.item_id;
  const pick = (k) => decls.map((d) => d[k]).find((v) => v !== undefined && v !== null && v !== '');
  const mismatch = decls.some((d) => String(d.weight_mismatch) === '1');
  const asSent = +pick('pieces_in_item') || 0;
  const rows = [
    [S10.test(itemId) ? 'Item (S10)' : 'Transport document', itemId, 'item_id'],
    ['Category', pick('item_category') ? CATEGORY_TEXT[pick('item_category')] || pick('item_category') : '—', 'item_category'],
    ['Sender country', pick('sender_country') || '—', 'sender_country'],
    ['Addressee country', pick('addressee_country') || '—', 'addressee_country'],
    ['Message', pick('message') || '—', 'message'],
    ['Pieces', asSent && asSent !== decls.length ? `${decls.length} received of ${asSent} sent` : String(decls.length), 'pieces'],
  ];
  if (pick('item_gross_weight_kg') !== undefined) rows.push(['Gross weight (kg)', fmtNumber(+pick('item_gross_weight_kg'), 3), 'item_gross_weight_kg']);
  const table = el('table', { class: 'compact pieces', id: 'pieces' },
    el('caption', {}, `Content pieces (${decls.length})`),
    el('thead', {}, el('tr', {}, ...['#', 'Declaration', 'Description', 'HS code', 'Quantity', 'Net kg', 'Value', 'Origin']
      .map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, decls.map((d, i) => el('tr', { 'data-declaration': d.declaration_id, ...(String(d.weight_mismatch) === '1' ? { 'data-weight-mismatch': '1' } : {}) },
      el('td', { class: 'num' }, d.piece_number || String(i + 1)),
      el('td', {}, d.declaration_id),
      el('td', { 'data-col': 'description' }, d.description || '—'),
      el('td', { 'data-col': 'hs' }, d.hs_code === '00' ? 'none' : d.hs_code || '—'),
      el('td', { class: 'num' }, d.supplementary_units != null ? fmtNumber(d.supplementary_units, 0) : '—'),
      el('td', { class: 'num' }, fmtNumber(d.net_mass_kg, 3)),
      el('td', { class: 'num', 'data-col': 'value' }, fmtMoney(d.declared_value, d.currency)),
      el('td', {}, d.origin_country || '—')))));
  return el('section', { 'aria-labelledby': 'h-item', class: 'card', id: 'postal-item', 'data-item-id': itemId },
    el('h2', { id: 'h-item' }, S10.test(itemId) ? `Postal item ${itemId}` : `Express consignment ${itemId}`),
    el('dl', { class: 'kv item' }, rows.flatMap(([k, v, f]) => [el('dt', {}, k), el('dd', { 'data-field': f }, v)])),
    mismatch ? el('p', { class: 'flag', id: 'weight-mismatch' }, el('strong', {}, 'Weight mismatch: '), 'the pieces weigh more than the item as posted.') : null,
    el('div', { class: 'table-scroll' }, table));
}

// The photos attached to an outcome, each a thumbnail linking to the whole picture.
function attachmentList(attachments) {
  if (!attachments?.length) return null;
  return el('ul', { class: 'attachments' }, attachments.map((a) => el('li', { 'data-sha256': a.sha256 },
    el('a', { href: a.url, target: '_blank', rel: 'noopener' },
      el('img', { src: a.url, alt: `Photo of the find${a.name ? `: ${a.name}` : ''}`, loading: 'lazy', width: '120', height: '90' })),
    el('span', { class: 'muted small' }, `${a.name || a.sha256.slice(0, 12)} · ${fmtBytes(a.bytes)} · ${a.uploaded_by}`))));
}

function fmtBytes(n) {
  return n >= 1024 * 1024 ? `${fmtNumber(n / (1024 * 1024), 1)} MB` : `${fmtNumber(Math.max(1, Math.round(n / 1024)))} kB`;
}

const UNIT_TEXT = Object.fromEntries(SEIZED_UNITS);

function outcomesList(outcomes, onAttach) {
  if (!outcomes?.length) return el('p', { class: 'muted', id: 'outcome-history' }, 'No outcome recorded yet.');
  return el('ol', { class: 'outcomes', id: 'outcome-history' }, outcomes.map((o) => {
    const details = [];
    if (o.not_inspected_reason) details.push(el('span', { 'data-field': 'not_inspected_reason' }, `reason: ${o.not_inspected_reason}`));
    if (o.seized_quantity != null) details.push(el('span', { 'data-field': 'seized' }, `seized ${fmtNumber(o.seized_quantity, o.seized_quantity % 1 ? 3 : 0)} ${UNIT_TEXT[o.seized_unit] || o.seized_unit}`));
    if (o.revenue_recovered != null) details.push(el('span', { 'data-field': 'revenue' }, `revenue recovered ${fmtMoney(o.revenue_recovered, o.revenue_currency)}`));
    if (o.corrected_value != null) details.push(el('span', { 'data-field': 'corrected_value' }, `corrected value ${fmtNumber(o.corrected_value, 2)}`));
    const add = onAttach && o.result !== 'nothing' && o.result !== 'not_inspected'
      ? photoPicker(`add-photo-${o.seq}`, 'Add a photo', (files) => onAttach(o.seq, files)) : null;
    return el('li', { 'data-result': o.result, 'data-seq': String(o.seq) },
      el('strong', {}, OUTCOME_TEXT[o.result] || o.result),
      details.length ? [' — ', ...details.flatMap((d, i) => (i ? ['; ', d] : [d]))] : '',
      ` · ${o.officer} · ${fmtTime(o.recorded_at)}`,
      o.notes ? el('blockquote', {}, o.notes) : null,
      attachmentList(o.attachments), add);
  }));
}

// A file input for photos of the find (JPEG or PNG); `onPick` gets the files chosen.
function photoPicker(id, label, onPick) {
  const input = el('input', { type: 'file', id, accept: PHOTO_TYPES.join(','), multiple: true, class: 'visually-hidden' });
  input.addEventListener('change', () => { if (input.files.length) onPick([...input.files]); input.value = ''; });
  return el('span', { class: 'photo-add' }, input, el('label', { for: id, class: 'button-like small' }, label));
}

// The photos' problems before anything is sent: type by the first bytes (as the service checks
// them), and size. An array of messages, empty when all is well.
async function photoProblems(files) {
  const out = [];
  for (const f of files) {
    const head = new Uint8Array(await f.slice(0, 8).arrayBuffer());
    const jpeg = head[0] === 0xff && head[1] === 0xd8 && head[2] === 0xff;
    const png = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((b, i) => head[i] === b);
    if (!jpeg && !png) out.push(`${f.name} is not a JPEG or PNG photo`);
    else if (f.size > PHOTO_MAX_BYTES) out.push(`${f.name} is ${fmtBytes(f.size)}; a photo may be at most ${fmtBytes(PHOTO_MAX_BYTES)}`);
  }
  return out;
}

// Uploads each photo (typed by its bytes) to outcome `seq`; the names of those that failed, with why.
async function attachPhotos(id, seq, files) {
  const failed = [];
  for (const f of files) {
    const head = new Uint8Array(await f.slice(0, 3).arrayBuffer());
    const type = head[0] === 0xff && head[1] === 0xd8 ? 'image/jpeg' : 'image/png';
    try {
      await api.attachPhoto(id, seq, new File([f], f.name, { type }));
    } catch (e) {
      failed.push(`${f.name}: ${e.message}`);
    }
  }
  return failed;
}

function outcomeForm(c, onRecorded) {
  const message = el('div', { class: 'form-message', id: 'outcome-message', role: 'status', 'aria-live': 'polite' });
  const currency = (c.declarations || [])[0]?.currency || '';
  const corrected = el('input', { id: 'corrected-value', name: 'corrected_value', type: 'number', min: '0.01', step: '0.01', inputmode: 'decimal' });
  const correctedRow = el('div', { class: 'detail-row corrected', hidden: true },
    el('label', { for: 'corrected-value' }, `Corrected value${currency ? ` (${currency})` : ''}`), corrected,
    el('p', { class: 'hint' }, 'The value the goods are actually worth, as found.'));
  const reason = el('input', { id: 'not-inspected-reason', name: 'not_inspected_reason', type: 'text', maxlength: '500', list: 'not-inspected-reasons', autocomplete: 'off' });
  const reasonRow = el('div', { class: 'detail-row not-inspected', hidden: true },
    el('label', { for: 'not-inspected-reason' }, 'Why was it not inspected?'), reason,
    el('datalist', { id: 'not-inspected-reasons' }, NOT_INSPECTED_REASONS.map((r) => el('option', { value: r }))));
  const quantity = el('input', { id: 'seized-quantity', name: 'seized_quantity', type: 'number', min: '0', step: 'any', inputmode: 'decimal' });
  const unit = el('select', { id: 'seized-unit', name: 'seized_unit', 'aria-label': 'Unit of the seized quantity' },
    SEIZED_UNITS.map(([v, t]) => el('option', { value: v }, t)));
  const revenue = el('input', { id: 'revenue-recovered', name: 'revenue_recovered', type: 'number', min: '0', step: '0.01', inputmode: 'decimal' });
  const revenueCurrency = el('input', { id: 'revenue-currency', name: 'revenue_currency', type: 'text', maxlength: '3', size: '4', value: currency, 'aria-label': 'Currency of the revenue recovered', autocomplete: 'off' });
  const photos = el('input', { id: 'outcome-photos', name: 'photos', type: 'file', accept: PHOTO_TYPES.join(','), multiple: true });
  const findRows = el('div', { class: 'find-details', hidden: true },
    el('div', { class: 'detail-row inline' }, el('label', { for: 'seized-quantity' }, 'Seized'), quantity, unit),
    el('div', { class: 'detail-row inline' }, el('label', { for: 'revenue-recovered' }, 'Revenue recovered'), revenue, revenueCurrency),
    el('div', { class: 'detail-row inline' }, el('label', { for: 'outcome-photos' }, 'Photos of the find'), photos,
      el('span', { class: 'hint' }, 'JPEG or PNG, up to 10 MB each')));
  const radios = OUTCOMES.map(([value, label], i) => el('label', { class: 'radio' },
    el('input', { type: 'radio', name: 'result', value, id: `result-${value}`, 'aria-keyshortcuts': OUTCOME_KEYS[i] }),
    ` ${label} `, el('kbd', { 'aria-hidden': 'true' }, OUTCOME_KEYS[i])));
  const notes = el('textarea', { id: 'outcome-notes', name: 'notes', rows: '3', maxlength: '10000' });
  const submit = el('button', { type: 'submit', class: 'primary', 'aria-keyshortcuts': 'Enter Control+Enter' }, 'Record outcome');
  const autoNext = el('input', { type: 'checkbox', id: 'auto-next', checked: localStorage.getItem(AUTO_NEXT_KEY) !== '0' });
  autoNext.addEventListener('change', () => localStorage.setItem(AUTO_NEXT_KEY, autoNext.checked ? '1' : '0'));
  const form = el('form', { class: 'outcome-form', id: 'outcome-form', novalidate: true },
    el('fieldset', {}, el('legend', {}, 'Found'), el('div', { class: 'radios' }, radios)),
    reasonRow, correctedRow, findRows,
    el('label', { for: 'outcome-notes' }, 'Note'), notes,
    el('div', { class: 'form-actions' }, submit,
      el('label', { class: 'check small' }, autoNext, ' then open the next consignment')),
    message);
  const fail = (text, field) => {
    message.className = 'form-message error';
    message.textContent = text;
    field?.focus();
  };
  // Enter on a choice records it (Ctrl+Enter from anywhere in the form, the note included).
  form.addEventListener('keydown', (e) => {
    if (e.key !== 'Enter' || e.altKey || e.shiftKey) return;
    if (e.ctrlKey || e.metaKey || e.target.matches('input[type=radio]')) {
      e.preventDefault();
      form.requestSubmit();
    }
  });
  const showDetails = () => {
    const v = form.elements.result.value;
    correctedRow.hidden = v !== 'undervaluation';
    corrected.required = v === 'undervaluation';
    reasonRow.hidden = v !== 'not_inspected';
    reason.required = v === 'not_inspected';
    findRows.hidden = !v || v === 'nothing' || v === 'not_inspected';
  };
  form.addEventListener('change', showDetails);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const result = form.elements.result.value;
    message.className = 'form-message';
    if (!result) return fail('Choose what the inspection found.', form.querySelector('input[name=result]'));
    const body = { result, notes: notes.value.trim() };
    const found = result !== 'nothing' && result !== 'not_inspected';
    if (result === 'not_inspected') {
      if (!reason.value.trim()) return fail('Say why the consignment was not inspected.', reason);
      body.not_inspected_reason = reason.value.trim();
    }
    if (result === 'undervaluation') {
      const v = parseFloat(corrected.value);
      if (!(v > 0)) return fail('Enter the corrected value (a positive amount) for an under-valuation.', corrected);
      body.corrected_value = v;
    }
    if (result === 'other' && !body.notes) return fail('Describe what was found in the note.', notes);
    let files = [];
    if (found) {
      if (quantity.value !== '') {
        const q = parseFloat(quantity.value);
        if (!(q > 0)) return fail('The seized quantity must be a positive number (or leave it empty).', quantity);
        body.seized_quantity = q;
        body.seized_unit = unit.value;
      }
      if (revenue.value !== '') {
        const r = parseFloat(revenue.value);
        if (!(r >= 0)) return fail('The revenue recovered must be an amount of 0 or more (or leave it empty).', revenue);
        const cur = revenueCurrency.value.trim().toUpperCase();
        if (!/^[A-Z]{3}$/.test(cur)) return fail('Give the currency of the revenue as a three-letter code (EUR).', revenueCurrency);
        body.revenue_recovered = r;
        body.revenue_currency = cur;
      }
      files = [...photos.files];
      const problems = await photoProblems(files);
      if (problems.length) return fail(`Not recorded: ${problems.join('; ')}.`, photos);
    }
    submit.disabled = true;
    message.textContent = 'Recording…';
    try {
      const res = await api.recordOutcome(c.consignment_id, body);
      const rec = res.recorded || {};
      let summary = `${OUTCOME_TEXT[rec.result || result] || result} — outcome #${rec.seq ?? '?'} by ${rec.officer || 'you'} at ${fmtTime(rec.recorded_at)}.`;
      let failed = [];
      if (files.length) {
        message.textContent = `Recorded; attaching ${files.length} photo${files.length === 1 ? '' : 's'}…`;
        failed = await attachPhotos(c.consignment_id, rec.seq, files);
        const sent = files.length - failed.length;
        if (sent) summary += ` ${sent} photo${sent === 1 ? '' : 's'} attached.`;
      }
      message.replaceChildren(el('strong', {}, 'Recorded: '), summary);
      message.classList.add(failed.length ? 'error' : 'success');
      if (failed.length) message.append(` Not attached: ${failed.join('; ')}. Add it to the outcome below.`);
      message.dataset.seq = String(rec.seq ?? '');
      const goNext = autoNext.checked && !failed.length;
      const keepNext = autoNext.checked;
      form.reset();
      autoNext.checked = keepNext;
      revenueCurrency.value = currency;
      showDetails();
      await onRecorded(res, { autoNext: goNext, text: summary, message });
    } catch (err) {
      message.className = 'form-message error';
      message.textContent = `Not recorded: ${err.message}`;
    } finally {
      submit.disabled = false;
    }
  });
  return form;
}

function analysisSummary(scan) {
  const a = scan.analysis;
  if (!a) return el('p', { class: 'muted' }, 'This scan has not been analysed (the server has no calibration).');
  const m = a.materials || {};
  const parts = [el('p', {}, `Materials: organic ${fmtNumber(m.organic_kg, 2)} kg · inorganic ${fmtNumber(m.inorganic_kg, 2)} kg · metal ${fmtNumber(m.metal_kg, 2)} kg`)];
  if (a.detections?.length) {
    parts.push(el('ul', { class: 'detections' }, a.detections.map((d) => el('li', {}, `${d.class} ${fmtNumber(d.score, 2)} at [${(d.box || []).join(', ')}]`))));
  }
  if (a.objects?.length) {
    parts.push(el('table', { class: 'objects compact' },
      el('caption', {}, `${a.objects.length} segmented object${a.objects.length === 1 ? '' : 's'}`),
      el('thead', {}, el('tr', {}, ...['#', 'Material', 'Z_eff', 'Mass (kg)', 'Area (cm²)', 'Box'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, a.objects.slice(0, 30).map((o) => el('tr', {},
        el('td', {}, String(o.id)), el('td', {}, o.material), el('td', { class: 'num' }, fmtNumber(o.z_eff, 1)),
        el('td', { class: 'num' }, fmtNumber(o.mass_kg, 3)), el('td', { class: 'num' }, fmtNumber(o.area_cm2, 1)),
        el('td', {}, (o.box || []).join(', ')))))));
  }
  return el('div', { class: 'analysis' }, parts);
}

async function showScan(container, scan, reasons) {
  container.replaceChildren();
  const viewerRoot = el('div', { id: `viewer-${scan.scan_id}` });
  container.append(viewerRoot, el('details', { class: 'analysis-details' }, el('summary', {}, 'Analysis figures'), analysisSummary(scan)));
  const viewer = new ScanViewer(viewerRoot, { idPrefix: 'sv' });
  viewer.setStatus('Loading the scan…');
  window.__clearsightViewer = viewer;  // for the browser tests and the console
  try {
    const { data, channels, approximate, source } = await loadScanData(scan);
    viewer.setData(data, channels, { approximate, source });
    viewer.setAnalysis(scan.analysis, reasons.filter((r) => r.box && (!r.scan_id || r.scan_id === scan.scan_id)));
    viewerRoot.dataset.ready = 'true';
  } catch (e) {
    viewer.setStatus(`The scan could not be shown: ${e.message}`, true);
    viewerRoot.dataset.ready = 'error';
  }
  return viewer;
}

export async function render(main, ctx) {
  const id = ctx.arg;
  setTitle(`Consignment ${id}`);
  const aborter = new AbortController();
  main.append(el('p', { class: 'muted' }, 'Loading…'));
  let c;
  try {
    c = await api.consignment(id, aborter.signal);
  } catch (e) {
    main.replaceChildren(el('h1', {}, `Consignment ${id}`), errorBox(e, 'It could not be loaded'), el('p', {}, el('a', { href: '#/queue' }, 'Back to the queue')));
    return;
  }
  const head = el('div', { class: 'consignment-head', id: 'decision-head' });
  const updated = el('div', { class: 'flash flash-info updated-banner', id: 'decision-updated', role: 'status', hidden: true },
    el('span'), el('button', { type: 'button', onclick: () => ctx.reload() }, 'Show the new decision'));
  const renderHead = (d) => head.replaceChildren(
    el('div', { class: 'head-line' }, channelBadge(d.channel, { control: d.control }), overBudgetTag(d), statusBadge(d.status),
      el('span', { class: 'score' }, 'Risk score ', el('strong', { id: 'score' }, fmtNumber(d.score, 3))),
      d.outcome ? el('span', { class: 'badge outcome', 'data-outcome': d.outcome }, `Outcome: ${OUTCOME_TEXT[d.outcome] || d.outcome}`) : null,
      el('span', { class: 'selection' }, d.control ? el('strong', {}, 'Random control sample: inspect it whatever the score. ') : '', d.selection || '')),
    el('p', { class: 'muted small' }, `Decision version ${d.version} · office ${d.lane || '—'} · date ${d.date} · received ${fmtTime(d.created_at)} · updated ${fmtTime(d.updated_at)}`));
  renderHead(c);

  const history = el('div', {});
  const canAttach = ['officer', 'analyst', 'admin'].includes(ctx.user?.role);
  const showHistory = (outcomes) => history.replaceChildren(outcomesList(outcomes, canAttach ? addPhotos : null));
  // Photos added to an outcome already recorded (taken after it was recorded).
  async function addPhotos(seq, files) {
    const note = el('p', { class: 'form-message', role: 'status', id: 'photo-message' }, 'Attaching…');
    history.append(note);
    const problems = await photoProblems(files);
    const failed = problems.length ? problems : await attachPhotos(id, seq, files);
    const fresh = await api.consignment(id);
    showHistory(fresh.outcomes);
    history.append(el('p', { class: `form-message ${failed.length ? 'error' : 'success'}`, role: 'status', id: 'photo-message' },
      failed.length ? `Not attached: ${failed.join('; ')}` : `Attached to outcome #${seq}.`));
  }
  showHistory(c.outcomes);
  const scansBox = el('div', { class: 'scans' });
  let viewer = null;
  const reasons = c.reasons || [];

  const reasonsCard = el('section', { 'aria-labelledby': 'h-reasons', class: 'card' }, el('h2', { id: 'h-reasons' }, 'Decision and reasons'), reasonsList(reasons, c.score));
  const canRecord = ['officer', 'analyst', 'admin'].includes(ctx.user?.role);
  const justRecorded = sessionStorage.getItem('cs-just-recorded');
  sessionStorage.removeItem('cs-just-recorded');
  const form = canRecord
    ? outcomeForm(c, async (res, { autoNext, text, message }) => {
      if (autoNext) {
        let next = null;
        try { next = await neighbourInQueue(id, 1); } catch { /* stay and say so below */ }
        if (next) {
          sessionStorage.setItem('cs-just-recorded', `${id}: ${text}`);
          location.hash = `#/consignment/${encodeURIComponent(next)}`;
          return;
        }
        message.append(' That was the last consignment of your queue.');
      }
      const fresh = await api.consignment(id);
      renderHead(fresh);
      showHistory(fresh.outcomes);
      message.tabIndex = -1;
      message.focus();
    })
    : el('p', { class: 'muted' }, 'Your role cannot record outcomes.');
  const outcomeCard = el('section', { 'aria-labelledby': 'h-outcome', class: 'card outcome-card' },
    el('h2', { id: 'h-outcome' }, 'Inspection outcome'),
    justRecorded ? el('p', { class: 'form-message success', id: 'previous-recorded', role: 'status' }, `Recorded for ${justRecorded}`) : null,
    form,
    canRecord ? el('p', { class: 'muted small keys-hint' }, 'Keys: ', el('kbd', {}, '1'), '–', el('kbd', {}, '0'), ', ', el('kbd', {}, 'x'), ' choose · ',
      el('kbd', {}, 'Enter'), ' record · ', el('kbd', {}, 'n'), ' next · ', el('kbd', {}, 'p'), ' previous · ', el('kbd', {}, 'q'), ' queue') : null,
    el('h3', {}, 'Outcomes recorded'), history);
  const scanCard = el('section', { 'aria-labelledby': 'h-scan', class: 'card scan-card' }, el('h2', { id: 'h-scan' }, 'X-ray scan'), scansBox);
  const facts = el('div', { class: 'facts-grid' },
    itemSection(c),
    el('section', { 'aria-labelledby': 'h-declaration', class: 'card' }, el('h2', { id: 'h-declaration' }, 'Declaration'), declarationSection(c.declarations || [])),
    el('section', { 'aria-labelledby': 'h-valuation', class: 'card' }, el('h2', { id: 'h-valuation' }, 'Valuation'), valuationSection(c)),
    el('section', { 'aria-labelledby': 'h-rules', class: 'card' }, el('h2', { id: 'h-rules' }, 'Rule hits'), ruleHits(c)));
  const back = sessionStorage.getItem('cs-last-queue') || '#/queue';
  // The scan beside the reasons and the outcome form: an officer sees why, looks, and records
  // without scrolling; the declaration, valuation and rule hits follow below.
  main.replaceChildren(el('section', { class: 'consignment-page' },
    el('div', { class: 'title-row' }, el('a', { href: back, class: 'crumbs' }, '← Queue'), el('h1', {}, `Consignment ${c.consignment_id}`),
      itemIdOf(c.declarations) && itemIdOf(c.declarations) !== c.consignment_id ? el('span', { class: 'muted item-id' }, ` item ${itemIdOf(c.declarations)}`) : null),
    head, updated,
    el('div', { class: 'consignment-grid' }, scanCard, el('div', { class: 'side-col' }, outcomeCard, reasonsCard)),
    facts));

  // Keys for a shift (from the start, while the scan still loads): 1..0 choose an outcome, n / p the next or previous consignment of the queue,
  // q the queue. Not while typing, and not keys the scan viewer has taken (it handles its own).
  const go = async (step) => {
    try {
      const to = await neighbourInQueue(id, step);
      if (to) location.hash = `#/consignment/${encodeURIComponent(to)}`;
      else ctx.flash(step > 0 ? 'This is the last consignment of your queue.' : 'This is the first consignment of your queue.', 'info');
    } catch (e) {
      ctx.flash(`The queue could not be read: ${e.message}`, 'error');
    }
  };
  const onKey = (e) => {
    // A page left while its scan was still loading never returned its cleanup: leave now.
    if (!head.isConnected) { document.removeEventListener('keydown', onKey); return; }
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
    if (e.target.closest('input:not([type=radio]):not([type=checkbox]), select, textarea, [contenteditable], canvas')) return;
    const i = OUTCOME_KEYS.indexOf(e.key);
    if (i >= 0 && canRecord) {
      const radio = document.getElementById(`result-${OUTCOMES[i][0]}`);
      if (radio) {
        e.preventDefault();
        radio.checked = true;
        radio.dispatchEvent(new Event('change', { bubbles: true }));
        radio.focus();
      }
    } else if (e.key === 'n' || e.key === 'p') {
      e.preventDefault();
      go(e.key === 'n' ? 1 : -1);
    } else if (e.key === 'q') {
      e.preventDefault();
      location.hash = back;
    }
  };
  document.addEventListener('keydown', onKey);

  const scans = c.scans || [];
  if (!scans.length) {
    scansBox.append(el('p', { class: 'muted', id: 'no-scan' }, 'No scan for this consignment. The decision rests on the declaration.'));
  } else {
    if (scans.length > 1) {
      const sel = el('select', { id: 'scan-select' }, scans.map((s) => el('option', { value: s.scan_id }, `${s.scan_id} (${fmtTime(s.received_at)})`)));
      const holder = el('div');
      sel.addEventListener('change', async () => { viewer?.destroy(); viewer = await showScan(holder, scans.find((s) => s.scan_id === sel.value), reasons); });
      scansBox.append(el('label', { for: 'scan-select' }, 'Scan '), sel, holder);
      viewer = await showScan(holder, scans[0], reasons);
    } else {
      const holder = el('div');
      scanCard.querySelector('h2').append(el('span', { class: 'muted small scan-meta' }, ` Scan ${scans[0].scan_id} · ${scans[0].width} × ${scans[0].height} px · ${scans[0].meta?.pixel_mm ? `${scans[0].meta.pixel_mm} mm/px · ` : ''}received ${fmtTime(scans[0].received_at)}`));
      scansBox.append(holder);
      viewer = await showScan(holder, scans[0], reasons);
    }
  }
  // A scan or declaration that arrives later changes the decision: say so, without pulling the
  // page from under the officer.
  let shownVersion = c.version;
  let shownScans = scans.length;
  const timer = setInterval(async () => {
    if (document.hidden) return;
    try {
      const fresh = await api.consignment(id, aborter.signal);
      if (fresh.version !== shownVersion || (fresh.scans || []).length !== shownScans) {
        shownVersion = fresh.version;
        shownScans = (fresh.scans || []).length;
        updated.hidden = false;
        updated.querySelector('span').textContent = `The decision was updated (version ${fresh.version}, ${fresh.channel}${shownScans > scans.length ? ', a new scan' : ''}). `;
      }
    } catch { /* the next poll tries again; a 401 is handled by the app */ }
  }, POLL_MS);
  return () => { clearInterval(timer); aborter.abort(); viewer?.destroy(); document.removeEventListener('keydown', onKey); };
}
