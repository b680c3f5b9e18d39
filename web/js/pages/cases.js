// The case library (docs/training.md, "Case library"): every consignment with a recorded
// inspection outcome is a case. Trainers search the cases (text, tag, threat class, result, HS
// chapter, dates, teaching material only), open one (its scan in the viewer with the detector's
// overlays, the officer's note, what was seized, photos of the find), mark it as teaching
// material and tag it, and build a training session of the cases they select. Analysts read.
import { api } from '../api.js';
import { ScanViewer } from '../viewer/viewer.js';
import { loadScanData } from '../viewer/source.js';
import { el, errorBox, fmtMoney, fmtNumber, fmtTime, setTitle } from '../ui.js';

const WRITE_ROLES = new Set(['trainer', 'admin']);
const PAGE = 20;
const TAG_KINDS = [['goods', 'Goods'], ['threat_class', 'Threat class'], ['concealment', 'Concealment']];
const RESULT_TEXT = (r) => (r ? r.replace(/_/g, ' ') : '');
const tagList = (tags) => TAG_KINDS.flatMap(([k, label]) => (tags?.[k] || []).map((t) =>
  el('span', { class: 'badge case-tag', 'data-kind': k, title: label }, t)));

export async function render(main, ctx) {
  setTitle('Cases');
  const canWrite = WRITE_ROLES.has(ctx.user?.role);
  const selected = new Set();  // consignment ids chosen for a session
  let offset = 0;
  let detailViewer = null;

  // ---- Search form ----
  const input = (id, label, attrs = {}) => [el('label', { for: id }, label), el('input', { id, ...attrs })];
  const resultSelect = el('select', { id: 'cases-result' }, el('option', { value: '' }, 'any'));
  const form = el('form', { id: 'cases-search', class: 'filters', role: 'search' },
    ...input('cases-q', 'Text', { type: 'search', maxlength: '200', placeholder: 'note, goods, importer, id' }),
    ...input('cases-tag', 'Tag', { maxlength: '40' }),
    ...input('cases-threat', 'Threat class tag', { maxlength: '40' }),
    el('label', { for: 'cases-result' }, 'Result'), resultSelect,
    ...input('cases-hs', 'HS chapter', { maxlength: '2', size: '3', pattern: '[0-9]{2}', inputmode: 'numeric' }),
    ...input('cases-from', 'From', { type: 'date' }),
    ...input('cases-to', 'to', { type: 'date' }),
    el('label', { class: 'check', for: 'cases-teaching' }, el('input', { id: 'cases-teaching', type: 'checkbox' }), ' Teaching only'),
    el('label', { class: 'check', for: 'cases-with-scan' }, el('input', { id: 'cases-with-scan', type: 'checkbox' }), ' With a scan'),
    el('button', { type: 'submit', class: 'primary', id: 'cases-go' }, 'Search'));
  const count = el('p', { id: 'cases-count', role: 'status', 'aria-live': 'polite' });
  const tbody = el('tbody');
  const table = el('table', { class: 'stats', id: 'cases-table' },
    el('caption', {}, 'Cases, newest outcome first'),
    el('thead', {}, el('tr', {}, ...[canWrite ? 'Session' : null, 'Consignment', 'Outcome', 'Result', 'HS', 'Goods', 'Importer', 'Tags', 'Teaching', 'Scans · photos']
      .filter(Boolean).map((h) => el('th', { scope: 'col' }, h)))),
    tbody);
  const pager = el('nav', { class: 'pager', 'aria-label': 'Pages of cases' });
  const detail = el('section', { id: 'case-detail', class: 'case-detail', 'aria-label': 'Case', hidden: true });
  const builder = canWrite ? sessionBuilder() : null;
  main.append(el('h1', {}, 'Case library'),
    el('p', { class: 'muted' }, 'Every consignment with a recorded inspection outcome is a case. Mark the good ones as teaching material, tag them, and train officers on the real parcels.'),
    form, count, el('div', { class: 'table-wrap' }, table), pager, detail, builder);

  function query() {
    const v = (id) => form.querySelector(`#${id}`).value.trim();
    return {
      q: v('cases-q'), tag: v('cases-tag'), threat_class: v('cases-threat'), result: v('cases-result'),
      hs_chapter: v('cases-hs'), from: v('cases-from'), to: v('cases-to'),
      teaching: form.querySelector('#cases-teaching').checked ? 1 : '',
      with_scan: form.querySelector('#cases-with-scan').checked ? 1 : '',
      limit: PAGE, offset,
    };
  }

  async function search() {
    let page;
    try {
      page = await api.cases(query());
    } catch (e) {
      count.replaceChildren(errorBox(e, 'The cases could not be searched'));
      return;
    }
    if (resultSelect.options.length === 1)
      for (const r of page.results || []) resultSelect.append(el('option', { value: r }, RESULT_TEXT(r)));
    count.replaceChildren(el('strong', { id: 'cases-total', 'data-total': String(page.total) }, fmtNumber(page.total)),
      ` case${page.total === 1 ? '' : 's'} match`);
    tbody.replaceChildren(...(page.items.length ? page.items.map(row)
      : [el('tr', {}, el('td', { colspan: canWrite ? '10' : '9', class: 'muted' }, 'No case matches.'))]));
    const from = page.total ? offset + 1 : 0;
    const to = Math.min(page.total, offset + PAGE);
    pager.replaceChildren(
      el('button', { type: 'button', disabled: offset === 0, onclick: () => { offset = Math.max(0, offset - PAGE); search(); } }, '← Previous'),
      el('span', { class: 'pager-info', id: 'cases-pager' }, `${from}–${to} of ${page.total}`),
      el('button', { type: 'button', disabled: to >= page.total, onclick: () => { offset += PAGE; search(); } }, 'Next →'));
  }

  function row(c) {
    const o = c.outcome || {};
    const pick = canWrite ? el('input', { type: 'checkbox', class: 'case-pick', checked: selected.has(c.consignment_id), disabled: !c.scans,
      title: c.scans ? 'Put this case into a new session' : 'No stored scan: a session cannot show it',
      'aria-label': `Select ${c.consignment_id} for a session` }) : null;
    pick?.addEventListener('change', () => {
      if (pick.checked) selected.add(c.consignment_id); else selected.delete(c.consignment_id);
      builder?.update();
    });
    return el('tr', { 'data-case': c.consignment_id },
      canWrite ? el('td', {}, pick) : null,
      el('th', { scope: 'row' }, el('button', { type: 'button', class: 'link-button case-open', onclick: () => open(c.consignment_id) }, c.consignment_id)),
      el('td', {}, fmtTime(o.recorded_at)),
      el('td', { 'data-col': 'result' }, RESULT_TEXT(o.result)),
      el('td', {}, c.hs_code || '—'),
      el('td', {}, c.description || '—'),
      el('td', {}, c.importer_id || '—'),
      el('td', { 'data-col': 'tags' }, tagList(c.tags)),
      el('td', { 'data-col': 'teaching' }, c.teaching ? '✓ teaching' : ''),
      el('td', { class: 'num' }, `${c.scans} · ${c.photos}`));
  }

  // ---- One case ----
  async function open(id) {
    detailViewer?.destroy();
    detailViewer = null;
    detail.hidden = false;
    detail.replaceChildren(el('p', {}, `Loading ${id}…`));
    let c;
    try {
      c = await api.caseDetail(id);
    } catch (e) {
      detail.replaceChildren(errorBox(e, `Case ${id} could not be loaded`));
      return;
    }
    const o = c.outcome || {};
    const photos = (c.outcomes || []).flatMap((x) => x.attachments || []);
    const facts = el('dl', { class: 'case-facts' },
      el('dt', {}, 'Result'), el('dd', { id: 'case-result' }, RESULT_TEXT(o.result)),
      el('dt', {}, 'Recorded'), el('dd', {}, `${fmtTime(o.recorded_at)} by ${o.officer}`),
      el('dt', {}, 'Officer’s note'), el('dd', { id: 'case-note' }, o.notes || '—'),
      o.seized_quantity !== null ? [el('dt', {}, 'Seized'), el('dd', {}, `${fmtNumber(o.seized_quantity, 2)} ${o.seized_unit || ''}`)] : null,
      o.revenue_recovered !== null ? [el('dt', {}, 'Revenue recovered'), el('dd', {}, fmtMoney(o.revenue_recovered, o.revenue_currency))] : null,
      el('dt', {}, 'Declared'), el('dd', {}, (c.declarations || []).map((d) =>
        el('div', {}, `${d.declaration_id}: HS ${d.hs_code || '—'}, ${d.description || 'no description'}, ${d.importer_id || '—'}, from ${d.origin_country || '—'}, ${fmtMoney(d.declared_value, d.currency)}`))),
      el('dt', {}, 'Detector'), el('dd', {}, (c.scan_list || []).flatMap((s) => s.detections.map((d) =>
        el('div', {}, `${RESULT_TEXT(d.class)} ${fmtNumber(d.score, 2)} at ${d.box.join(', ')}`))).concat((c.scan_list || []).some((s) => s.detections.length) ? [] : ['nothing detected'])));
    const gallery = photos.length ? el('div', { class: 'case-photos' }, photos.map((p) =>
      el('a', { href: p.url, target: '_blank', rel: 'noopener' }, el('img', { src: p.url, alt: p.name || 'Photo of the find', loading: 'lazy' })))) : null;
    const viewerRoot = el('div', { id: 'case-viewer' });
    detail.replaceChildren(...[el('h2', {}, `Case ${c.consignment_id}`), facts, gallery, marker(c), viewerRoot].filter(Boolean));
    const scan = (c.scan_list || [])[0];
    if (!scan) { viewerRoot.append(el('p', { class: 'muted' }, 'No stored scan.')); return; }
    const viewer = new ScanViewer(viewerRoot, { idPrefix: 'cv' });
    detailViewer = viewer;
    window.__clearsightViewer = viewer;  // for the browser tests and the console
    try {
      const full = await api.scan(scan.scan_id);
      const { data, channels, approximate, source } = await loadScanData(full);
      viewer.setData(data, channels, { approximate, source });
      viewer.setAnalysis(full.analysis, []);
      viewerRoot.dataset.ready = 'true';
    } catch (e) {
      viewer.setStatus(`The scan could not be shown: ${e.message}`, true);
      viewerRoot.dataset.ready = 'error';
    }
  }

  // The teaching flag and the tags (trainers and admins), saved together.
  function marker(c) {
    if (!canWrite) return el('p', {}, c.teaching ? 'Teaching material. ' : '', tagList(c.tags));
    const teaching = el('input', { id: 'case-teaching', type: 'checkbox', checked: c.teaching });
    const inputs = TAG_KINDS.map(([k, label]) => [el('label', { for: `case-tags-${k}` }, label),
      el('input', { id: `case-tags-${k}`, value: (c.tags?.[k] || []).join(', '), placeholder: 'comma-separated', size: '28' })]);
    const msg = el('span', { class: 'form-message', id: 'case-message', role: 'status', 'aria-live': 'polite' });
    const f = el('form', { id: 'case-mark', class: 'filters case-mark' },
      el('label', { class: 'check', for: 'case-teaching' }, teaching, ' Teaching material'), ...inputs.flat(),
      el('button', { type: 'submit', id: 'case-save' }, 'Save'), msg,
      c.marked_by ? el('span', { class: 'muted small' }, `last by ${c.marked_by}, ${fmtTime(c.marked_at)}`) : null);
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const tags = Object.fromEntries(TAG_KINDS.map(([k]) => [k,
        f.querySelector(`#case-tags-${k}`).value.split(',').map((t) => t.trim()).filter(Boolean)]));
      try {
        await api.putCase(c.consignment_id, { teaching: teaching.checked, tags });
        msg.className = 'form-message';
        msg.textContent = 'Saved.';
        await search();
      } catch (err) {
        msg.className = 'form-message error';
        msg.textContent = err.message;
      }
    });
    return f;
  }

  // ---- A session of the selected cases ----
  function sessionBuilder() {
    const info = el('p', { id: 'case-selection' });
    const trainees = el('select', { id: 'case-session-trainees', multiple: true, size: '3', 'aria-label': 'Officers to assign' });
    const msg = el('div', { class: 'form-message', id: 'case-session-message', role: 'status', 'aria-live': 'polite' });
    const f = el('form', { id: 'case-session', class: 'filters' },
      el('label', { for: 'case-session-name' }, 'Session name'), el('input', { id: 'case-session-name', required: true, maxlength: '200', value: 'Real cases' }),
      el('label', { for: 'case-session-extra' }, 'Projected images besides'), el('input', { id: 'case-session-extra', type: 'number', min: '0', max: '499', value: '0' }),
      el('label', { for: 'case-session-time' }, 'Seconds per image'), el('input', { id: 'case-session-time', type: 'number', min: '3', max: '600', value: '20' }),
      el('label', { for: 'case-session-trainees' }, 'Assign to'), trainees,
      el('button', { type: 'submit', class: 'primary', id: 'case-session-build' }, 'Build session'));
    const box = el('section', { class: 'case-session', 'aria-label': 'A session of the selected cases' },
      el('h2', {}, 'Train on these cases'), info, f, msg);
    api.trainingSessions().then((list) => {
      trainees.append(...(list.trainees || []).map((u) => el('option', { value: u }, u)));
    }).catch(() => { /* the form still builds a session; assign it on the Training page */ });
    box.update = () => {
      info.textContent = selected.size
        ? `${selected.size} case${selected.size === 1 ? '' : 's'} selected: ${[...selected].join(', ')}`
        : 'Select cases with a scan in the table to build a session of them.';
      f.querySelector('#case-session-build').disabled = !selected.size;
    };
    f.addEventListener('submit', async (e) => {
      e.preventDefault();
      const cases = [...selected];
      const settings = { images: cases.length + +f.querySelector('#case-session-extra').value, threat_share: 0.5,
        time_limit_s: +f.querySelector('#case-session-time').value, cases };
      try {
        const s = await api.createTrainingSession(f.querySelector('#case-session-name').value, settings);
        const who = [...trainees.selectedOptions].map((o) => o.value);
        if (who.length) await api.assignTraining(s.session_id, who);
        msg.className = 'form-message';
        msg.replaceChildren(`Session “${s.name}” built with ${cases.length} case${cases.length === 1 ? '' : 's'}`,
          who.length ? ` and assigned to ${who.join(', ')}` : '', '. ', el('a', { href: '#/training' }, 'Open Training'));
        selected.clear();
        box.update();
        await search();
      } catch (err) {
        msg.className = 'form-message error';
        msg.textContent = err.message;
      }
    });
    box.update();
    return box;
  }

  form.addEventListener('submit', (e) => { e.preventDefault(); offset = 0; search(); });
  await search();
  return () => { detailViewer?.destroy(); };
}
