// The rule profile for analysts: the text in force, a draft edited beside it, tried on the
// declarations of the last days (hits, confirmed hits, what it would newly send to red) before it
// is activated; field names outside the schema must be confirmed, as the API requires. A draft rule
// handed over by another page (the Horizon page's "Draft a rule", in sessionStorage) is appended
// to the profile in force; nothing is installed until the analyst activates it. Below, the
// profile's history: every version with who stored it and when, a line diff of any version against
// the one in force, and a rollback that activates an old version's text as a new version.
import { api } from '../api.js';
import { DRAFT_KEY } from './horizon.js';
import { el, errorBox, fmtNumber, fmtPercent, fmtTime, setTitle } from '../ui.js';

// Unchanged runs longer than this are folded in a diff, keeping CONTEXT lines each side.
const FOLD = 8;
const CONTEXT = 3;

// A line diff (GET /api/rules/versions/{v}/diff) as a table: old and new line numbers, the sign,
// the text; long unchanged runs folded.
function diffTable(d) {
  const rows = [];
  const lines = d.lines || [];
  for (let i = 0; i < lines.length;) {
    if (lines[i].op === ' ') {
      let j = i;
      while (j < lines.length && lines[j].op === ' ') j++;
      const run = j - i;
      const keepHead = i === 0 ? 0 : CONTEXT, keepTail = j === lines.length ? 0 : CONTEXT;
      if (run > FOLD && run > keepHead + keepTail) {
        for (let k = i; k < i + keepHead; k++) rows.push(lines[k]);
        rows.push({ fold: run - keepHead - keepTail });
        for (let k = j - keepTail; k < j; k++) rows.push(lines[k]);
        i = j;
        continue;
      }
    }
    rows.push(lines[i++]);
  }
  const cls = { ' ': 'same', '-': 'removed', '+': 'added' };
  const sign = { ' ': ' ', '-': '−', '+': '+' };
  const to = d.to ? `version ${d.to.version}${d.to.in_force ? ' (in force)' : ''}` : 'no profile';
  return el('table', { class: 'diff', id: 'rules-diff-table' },
    el('caption', {}, d.identical ? `Version ${d.from.version} and ${to} are the same text.`
      : `Version ${d.from.version} against ${to}: ${d.removed} line${d.removed === 1 ? '' : 's'} only in version ${d.from.version} (−), ${d.added} only in ${to} (+).`),
    el('thead', {}, el('tr', {}, el('th', { scope: 'col' }, `v${d.from.version}`), el('th', { scope: 'col' }, d.to ? `v${d.to.version}` : '—'),
      el('th', { scope: 'col' }, el('span', { class: 'visually-hidden' }, 'change')), el('th', { scope: 'col' }, 'line'))),
    el('tbody', {}, rows.map((l) => (l.fold
      ? el('tr', { class: 'fold' }, el('td', { colspan: '4' }, `… ${l.fold} unchanged lines …`))
      : el('tr', { class: cls[l.op], 'data-op': l.op },
        el('td', { class: 'num' }, l.old ?? ''), el('td', { class: 'num' }, l.new ?? ''),
        el('td', { class: 'sign', 'aria-label': l.op === '-' ? 'removed' : l.op === '+' ? 'added' : 'unchanged' }, sign[l.op]),
        el('td', {}, el('code', {}, l.text || ' ')))))));
}

export async function render(main, ctx) {
  setTitle('Rules');
  if (!ctx.isAnalyst()) {
    main.append(el('h1', {}, 'Rules'), el('p', { class: 'error-box', role: 'alert' },
      `The rule profile is for analysts and administrators; your role is ${ctx.user?.role}.`));
    return null;
  }
  let current;
  try {
    current = await api.rules();
  } catch (e) {
    main.append(el('h1', {}, 'Rules'), errorBox(e, 'The rule profile could not be loaded'));
    return null;
  }
  let handed = null;
  try { handed = JSON.parse(sessionStorage.getItem(DRAFT_KEY) || 'null'); } catch { handed = null; }
  sessionStorage.removeItem(DRAFT_KEY);
  const base = current.text || '';
  const initial = handed?.text ? `${base}${base && !base.endsWith('\n') ? '\n' : ''}${base ? '\n' : ''}${handed.text}` : base;
  const editor = el('textarea', { id: 'rules-text', rows: '18', spellcheck: 'false', class: 'code' }, initial);
  const days = el('input', { id: 'rules-days', type: 'number', min: '1', max: '3660', value: '30', size: '5' });
  const msg = el('div', { class: 'form-message', id: 'rules-message', role: 'status', 'aria-live': 'polite' });
  const results = el('div', { id: 'rules-results' });
  const confirmBox = el('input', { type: 'checkbox', id: 'rules-confirm-fields' });
  const confirmRow = el('p', { class: 'warn', id: 'rules-unknown', hidden: true });
  const activate = el('button', { type: 'button', class: 'primary', id: 'rules-activate', disabled: true }, 'Activate this profile');
  const head = el('p', { class: 'muted', id: 'rules-version' });
  const showVersion = (r) => head.replaceChildren(`In force: version ${r.version}${r.author ? ` by ${r.author}` : ''}${r.created_at ? ` (${fmtTime(r.created_at)})` : ''}${r.restored_from ? `, the text of version ${r.restored_from}` : ''}, ${(r.rules || []).length} rule${(r.rules || []).length === 1 ? '' : 's'}.`);
  showVersion(current);
  if (handed?.text) {
    msg.className = 'form-message';
    msg.textContent = `A draft rule for ${handed.from || 'a horizon signal'} was appended to the profile in force: edit it, try it, then activate it.`;
  }
  let tested = null;  // the text last tried, and its unknown fields

  editor.addEventListener('input', () => {
    activate.disabled = true;
    if (tested && editor.value !== tested.text) msg.textContent = 'The draft changed: try it again before activating it.';
  });

  async function tryDraft() {
    msg.className = 'form-message';
    msg.textContent = 'Trying the draft…';
    results.replaceChildren();
    activate.disabled = true;
    const text = editor.value;
    let r;
    try {
      r = await api.testRules(text, +days.value || 30);
    } catch (e) {
      msg.className = 'form-message error';
      msg.textContent = `Not valid: ${e.message}`;
      return;
    }
    tested = { text, unknown: (r.unknown_fields || []).map((f) => f.name) };
    msg.className = 'form-message success';
    msg.textContent = r.declarations
      ? `Tried on ${fmtNumber(r.declarations)} declarations from ${r.from} to ${r.to}${r.truncated ? ` (the newest of ${fmtNumber(r.in_window)})` : ''}: ${fmtNumber(r.newly_red)} consignment${r.newly_red === 1 ? '' : 's'} would newly go to red.`
      : 'No declarations are stored yet to try it on.';
    confirmRow.hidden = !tested.unknown.length;
    confirmBox.checked = false;
    confirmRow.replaceChildren(el('strong', {}, 'Fields the schema does not have: '),
      (r.unknown_fields || []).map((f) => `${f.name} (${f.where})`).join(', '),
      '. A typo never matches. ', el('label', {}, confirmBox, ' They are extra input columns: activate anyway'));
    results.replaceChildren(el('table', { class: 'stats', id: 'rules-test-table' },
      el('caption', {}, 'What the draft would have done'),
      el('thead', {}, el('tr', {}, ...['Rule', 'Action', 'Hits', 'Consignments', 'With outcome', 'Confirmed', 'Hit rate', 'Newly red', 'Examples'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, (r.rules || []).map((x) => el('tr', { 'data-rule': x.name },
        el('th', { scope: 'row' }, el('code', {}, x.name), el('span', { class: 'muted small' }, ` line ${x.line}`)),
        el('td', {}, x.action), el('td', { class: 'num' }, fmtNumber(x.hits)), el('td', { class: 'num' }, fmtNumber(x.consignments)),
        el('td', { class: 'num' }, fmtNumber(x.with_outcome)), el('td', { class: 'num' }, fmtNumber(x.confirmed)),
        el('td', { class: 'num' }, x.hit_rate == null ? '—' : fmtPercent(x.hit_rate, 0)),
        el('td', { class: 'num' }, fmtNumber(x.newly_red)),
        el('td', {}, (x.examples || []).map((id, i) => [i ? ', ' : '', el('a', { href: `#/consignment/${encodeURIComponent(id)}` }, id)])))))));
    activate.disabled = false;
  }

  activate.addEventListener('click', async () => {
    if (!tested || editor.value !== tested.text) { msg.textContent = 'Try the draft first.'; return; }
    if (tested.unknown.length && !confirmBox.checked) {
      msg.className = 'form-message error';
      msg.textContent = 'Confirm the fields the schema does not have, or correct them.';
      confirmBox.focus();
      return;
    }
    try {
      const r = await api.putRules(editor.value, tested.unknown);
      msg.className = 'form-message success';
      msg.textContent = `Activated as version ${r.version}: new declarations are assessed with it (audited).`;
      showVersion(r);
      activate.disabled = true;
      diffBox.replaceChildren();
      await loadHistory();
    } catch (e) {
      msg.className = 'form-message error';
      msg.textContent = `Not activated: ${e.message}`;
    }
  });

  // ---- History: versions, diff against the one in force, rollback ----
  const historyBox = el('div', { id: 'rules-history' });
  const diffBox = el('div', { id: 'rules-diff' });
  const historyMsg = el('div', { class: 'form-message', id: 'rules-history-message', role: 'status', 'aria-live': 'polite' });
  let inForce = current.version;

  async function showDiff(v, { offerRollback }) {
    diffBox.replaceChildren(el('p', { class: 'muted' }, `Comparing version ${v} with the one in force…`));
    let d;
    try {
      d = await api.rulesDiff(v);
    } catch (e) {
      diffBox.replaceChildren(errorBox(e, 'The diff could not be made'));
      return;
    }
    const parts = [el('h3', { id: 'h-rules-diff' }, `Version ${v} against the version in force (${inForce})`), diffTable(d)];
    if (offerRollback && v !== inForce) {
      const confirm = el('button', { type: 'button', class: 'primary', id: 'rules-rollback-confirm' },
        `Roll back: activate version ${v}'s text as version ${inForce + 1}`);
      confirm.addEventListener('click', async () => {
        confirm.disabled = true;
        historyMsg.className = 'form-message';
        historyMsg.textContent = 'Rolling back…';
        try {
          const r = await api.rollbackRules(v, inForce);
          historyMsg.className = 'form-message success';
          historyMsg.textContent = `Rolled back: version ${r.version} is in force with the text of version ${r.restored_from} (audited).`;
          showVersion(r);
          editor.value = r.text || '';
          tested = null;
          activate.disabled = true;
          await loadHistory();
          await showDiff(v, { offerRollback: false });
        } catch (e) {
          historyMsg.className = 'form-message error';
          historyMsg.textContent = `Not rolled back: ${e.message}`;
          confirm.disabled = false;
        }
      });
      parts.push(el('p', { class: 'muted small' }, 'A rollback stores the old text as a new version: the history keeps every version, and new declarations are assessed with it from now on.'), confirm);
    }
    diffBox.replaceChildren(...parts);
  }

  async function loadHistory() {
    let h;
    try {
      h = await api.rulesVersions(50);
    } catch (e) {
      historyBox.replaceChildren(errorBox(e, 'The history could not be loaded'));
      return;
    }
    inForce = h.in_force;
    if (!h.versions.length) {
      historyBox.replaceChildren(el('p', { class: 'muted' }, 'No rule profile has been stored yet.'));
      return;
    }
    historyBox.replaceChildren(el('table', { class: 'stats', id: 'rules-versions' },
      el('caption', {}, 'Stored versions, newest first'),
      el('thead', {}, el('tr', {}, ...['Version', 'By', 'When', 'Lines', '', ''].map((t, i) => el('th', { scope: 'col' }, i >= 4 ? el('span', { class: 'visually-hidden' }, i === 4 ? 'Diff' : 'Rollback') : t)))),
      el('tbody', {}, h.versions.map((v) => el('tr', { 'data-version': String(v.version), ...(v.in_force ? { 'data-in-force': 'true' } : {}) },
        el('th', { scope: 'row' }, `v${v.version}`, v.in_force ? el('span', { class: 'badge in-force' }, 'in force') : null,
          v.restored_from ? el('span', { class: 'muted small' }, ` rollback to v${v.restored_from}`) : null),
        el('td', {}, v.author), el('td', {}, fmtTime(v.created_at)), el('td', { class: 'num' }, fmtNumber(v.lines)),
        el('td', {}, v.in_force ? '' : el('button', { type: 'button', class: 'small', 'data-action': 'diff', onclick: () => showDiff(v.version, { offerRollback: false }) }, 'Diff')),
        el('td', {}, v.in_force ? '' : el('button', { type: 'button', class: 'small', 'data-action': 'rollback', onclick: () => showDiff(v.version, { offerRollback: true }) }, 'Roll back…')))))));
  }

  main.append(el('section', { class: 'rules-page' }, el('h1', {}, 'Rules'), head,
    el('section', { class: 'card', 'aria-labelledby': 'h-draft' }, el('h2', { id: 'h-draft' }, 'Draft'),
      el('label', { for: 'rules-text', class: 'visually-hidden' }, 'Rule profile text'), editor,
      el('div', { class: 'filters' }, el('label', { for: 'rules-days' }, 'Try on the last'), days, el('span', {}, 'days'),
        el('button', { type: 'button', id: 'rules-try', onclick: tryDraft }, 'Try the draft'), activate),
      confirmRow, msg, results,
      el('p', { class: 'muted small' }, 'Syntax and fields: docs/rules.md. Activating stores a new version; the audit log keeps each text.')),
    el('section', { class: 'card', 'aria-labelledby': 'h-history' }, el('h2', { id: 'h-history' }, 'History'),
      historyMsg, historyBox, diffBox)));
  await loadHistory();
  return null;
}
