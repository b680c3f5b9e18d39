// The rule profile for analysts: the text in force, a draft edited beside it, tried on the
// declarations of the last days (hits, confirmed hits, what it would newly send to red) before it
// is activated; field names outside the schema must be confirmed, as the API requires. A draft rule
// handed over by another page (the Horizon page's "Draft a rule", in sessionStorage) is appended
// to the profile in force; nothing is installed until the analyst activates it.
import { api } from '../api.js';
import { DRAFT_KEY } from './horizon.js';
import { el, errorBox, fmtNumber, fmtPercent, setTitle } from '../ui.js';

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
  const showVersion = (r) => head.replaceChildren(`In force: version ${r.version}${r.author ? ` by ${r.author}` : ''}, ${(r.rules || []).length} rule${(r.rules || []).length === 1 ? '' : 's'}.`);
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
    } catch (e) {
      msg.className = 'form-message error';
      msg.textContent = `Not activated: ${e.message}`;
    }
  });

  main.append(el('section', { class: 'rules-page' }, el('h1', {}, 'Rules'), head,
    el('section', { class: 'card', 'aria-labelledby': 'h-draft' }, el('h2', { id: 'h-draft' }, 'Draft'),
      el('label', { for: 'rules-text', class: 'visually-hidden' }, 'Rule profile text'), editor,
      el('div', { class: 'filters' }, el('label', { for: 'rules-days' }, 'Try on the last'), days, el('span', {}, 'days'),
        el('button', { type: 'button', id: 'rules-try', onclick: tryDraft }, 'Try the draft'), activate),
      confirmRow, msg, results,
      el('p', { class: 'muted small' }, 'Syntax and fields: docs/rules.md. Activating stores a new version; the audit log keeps each text.'))));
  return null;
}
