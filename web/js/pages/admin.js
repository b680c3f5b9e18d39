// The administrator's page: users (add, change role or password, disable, end sessions), the
// inspection capacity of the lanes, and the audit log with the check of its hash chain. Every
// action goes through the same API as the CLI, with the same role checks, and is audited there.
import { api } from '../api.js';
import { el, errorBox, fmtNumber, fmtPercent, fmtTime, setTitle } from '../ui.js';

const ROLES = ['officer', 'analyst', 'trainer', 'admin', 'integrator'];
const AUDIT_PAGE = 50;

function message(box, text, kind) {
  box.className = `form-message ${kind || ''}`;
  box.textContent = text;
}

function usersSection(ctx) {
  const box = el('div', { id: 'users' });
  const msg = el('div', { class: 'form-message', id: 'users-message', role: 'status', 'aria-live': 'polite' });
  const name = el('input', { id: 'u-name', name: 'username', autocomplete: 'off', required: true, maxlength: '64', size: '16' });
  const role = el('select', { id: 'u-role', name: 'role' }, ROLES.map((r) => el('option', { value: r }, r)));
  const pass = el('input', { id: 'u-pass', name: 'password', type: 'password', autocomplete: 'new-password', required: true, size: '16' });
  const form = el('form', { class: 'filters admin-form', id: 'user-form', 'aria-label': 'Add a user or change one' },
    el('label', { for: 'u-name' }, 'User name'), name,
    el('label', { for: 'u-role' }, 'Role'), role,
    el('label', { for: 'u-pass' }, 'Password'), pass,
    el('button', { type: 'submit', class: 'primary' }, 'Save user'));
  const act = async (fn, done) => {
    try {
      await fn();
      message(msg, done, 'success');
      await load();
    } catch (e) {
      message(msg, e.message, 'error');
    }
  };
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const u = name.value.trim();
    if (!u || !pass.value) { message(msg, 'Give a user name and a password.', 'error'); return; }
    await act(() => api.putUser(u, role.value, pass.value), `Saved ${u} as ${role.value}; any session of ${u} was ended.`);
    pass.value = '';
  });
  async function load() {
    let users;
    try {
      users = (await api.users()).users || [];
    } catch (e) {
      box.replaceChildren(errorBox(e, 'The users could not be loaded'));
      return;
    }
    box.replaceChildren(el('table', { class: 'stats', id: 'user-table' },
      el('caption', {}, `${users.length} user${users.length === 1 ? '' : 's'}`),
      el('thead', {}, el('tr', {}, ...['User', 'Role', 'State', 'Created', 'Actions'].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, users.map((u) => el('tr', { 'data-user': u.username, 'data-disabled': String(!!u.disabled) },
        el('th', { scope: 'row' }, u.username, u.username === ctx.user?.username ? el('span', { class: 'muted small' }, ' (you)') : null),
        el('td', {}, u.role),
        el('td', {}, u.disabled ? el('strong', { class: 'flag' }, 'disabled') : 'active'),
        el('td', {}, fmtTime(u.created_at)),
        el('td', { class: 'actions' },
          u.disabled
            ? el('button', { type: 'button', 'data-action': 'enable', onclick: () => act(() => api.enableUser(u.username), `${u.username} may sign in again.`) }, 'Enable')
            : el('button', { type: 'button', 'data-action': 'disable', disabled: u.username === ctx.user?.username, title: u.username === ctx.user?.username ? 'You cannot disable yourself' : '',
              onclick: () => { if (confirm(`Disable ${u.username}? Their sessions end at once.`)) act(() => api.disableUser(u.username), `${u.username} is disabled; their sessions ended.`); } }, 'Disable'),
          el('button', { type: 'button', 'data-action': 'sessions', onclick: () => act(() => api.endSessions(u.username), `Every session of ${u.username} ended.`) }, 'End sessions'),
          el('button', { type: 'button', 'data-action': 'edit', class: 'link-button', onclick: () => { name.value = u.username; role.value = u.role; pass.focus(); } }, 'Change role or password')))))));
  }
  return { node: el('section', { class: 'card', 'aria-labelledby': 'h-users' }, el('h2', { id: 'h-users' }, 'Users'), form, msg, box), load };
}

function capacitySection() {
  const box = el('div', { id: 'capacity' });
  const msg = el('div', { class: 'form-message', id: 'capacity-message', role: 'status', 'aria-live': 'polite' });
  async function load() {
    let c;
    try {
      c = await api.capacity();
    } catch (e) {
      box.replaceChildren(errorBox(e, 'The capacity could not be loaded'));
      return;
    }
    const red = el('input', { id: 'cap-red', type: 'number', min: '0', max: '100', step: '0.1', value: String(+(100 * c.red_share).toFixed(3)), size: '6' });
    const count = el('input', { id: 'cap-count', type: 'number', min: '0', step: '1', value: c.red_count == null ? '' : String(c.red_count), placeholder: 'none', size: '6' });
    const yellow = el('input', { id: 'cap-yellow', type: 'number', min: '0', max: '100', step: '0.1', value: String(+(100 * c.yellow_share).toFixed(3)), size: '6' });
    const form = el('form', { class: 'filters admin-form', id: 'capacity-form', 'aria-label': 'Inspection capacity of every lane' },
      el('label', { for: 'cap-red' }, 'Red share (%)'), red,
      el('label', { for: 'cap-count' }, 'or red count per day'), count,
      el('label', { for: 'cap-yellow' }, 'Yellow share (%)'), yellow,
      el('button', { type: 'submit', class: 'primary' }, 'Save capacity'));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      const body = { red_share: +red.value / 100, yellow_share: +yellow.value / 100, red_count: count.value === '' ? null : +count.value, lanes: c.lanes || {} };
      if (!(body.red_share >= 0 && body.red_share <= 1) || !(body.yellow_share >= 0 && body.yellow_share <= 1)) {
        message(msg, 'Shares are percentages from 0 to 100.', 'error');
        return;
      }
      try {
        await api.putCapacity(body);
        message(msg, 'Saved: new decisions use it now (audited).', 'success');
        await load();
      } catch (err) {
        message(msg, err.message, 'error');
      }
    });
    const lanes = Object.entries(c.lanes || {});
    box.replaceChildren(
      el('p', {}, `Every lane: red ${c.red_count == null ? `${fmtPercent(c.red_share, 1)} of its consignments` : `${fmtNumber(c.red_count)} a day`}, yellow ${fmtPercent(c.yellow_share, 1)}; random control sample ${fmtPercent(c.control_share, 0)} of the red budget (set at start: serve --control-share).`),
      form,
      lanes.length ? el('table', { class: 'stats compact', id: 'lane-capacity' },
        el('caption', {}, 'Lanes with their own capacity'),
        el('thead', {}, el('tr', {}, ...['Lane', 'Red', 'Yellow'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, lanes.map(([lane, l]) => el('tr', {}, el('th', { scope: 'row' }, lane),
          el('td', {}, l.red_count == null ? fmtPercent(l.red_share, 1) : `${l.red_count} a day`), el('td', {}, fmtPercent(l.yellow_share, 1))))))
        : el('p', { class: 'muted small' }, 'No lane has its own capacity (PUT /api/settings/capacity with "lanes" sets them).'));
  }
  return { node: el('section', { class: 'card', 'aria-labelledby': 'h-capacity' }, el('h2', { id: 'h-capacity' }, 'Inspection capacity'), msg, box), load };
}

function auditSection() {
  const box = el('div', { id: 'audit' });
  const verdict = el('p', { id: 'audit-verify', role: 'status' }, 'Checking the hash chain…');
  async function load() {
    let v;
    try {
      v = await api.verifyAudit();
      verdict.className = v.ok ? 'form-message success' : 'form-message error';
      verdict.textContent = v.ok ? `Intact: ${v.message}` : `Broken: ${v.message} (first bad entry ${v.first_bad_seq})`;
      const after = Math.max(0, (v.entries || 0) - AUDIT_PAGE);
      const page = await api.audit(after, AUDIT_PAGE);
      const entries = (page.entries || []).slice().reverse();
      box.replaceChildren(el('table', { class: 'stats compact', id: 'audit-table' },
        el('caption', {}, `The last ${entries.length} of ${fmtNumber(v.entries)} entries, newest first`),
        el('thead', {}, el('tr', {}, ...['#', 'When', 'Who', 'Action', 'Subject', 'Detail'].map((h) => el('th', { scope: 'col' }, h)))),
        el('tbody', {}, entries.map((e) => el('tr', { 'data-seq': String(e.seq), 'data-action': e.action },
          el('td', { class: 'num' }, String(e.seq)), el('td', {}, fmtTime(e.at)), el('td', {}, e.actor), el('td', {}, e.action),
          el('td', {}, e.subject), el('td', { class: 'audit-detail' }, el('code', {}, JSON.stringify(e.detail).slice(0, 160))))))));
    } catch (e) {
      box.replaceChildren(errorBox(e, 'The audit log could not be read'));
    }
  }
  return {
    node: el('section', { class: 'card', 'aria-labelledby': 'h-audit' }, el('h2', { id: 'h-audit' }, 'Audit log'),
      verdict, el('button', { type: 'button', id: 'audit-refresh', onclick: () => load() }, 'Check again'), box),
    load,
  };
}

export async function render(main, ctx) {
  setTitle('Administration');
  if (ctx.user?.role !== 'admin') {
    main.append(el('h1', {}, 'Administration'), el('p', { class: 'error-box', role: 'alert' },
      `Administration is for administrators; your role is ${ctx.user?.role}.`));
    return null;
  }
  const users = usersSection(ctx);
  const capacity = capacitySection();
  const audit = auditSection();
  main.append(el('section', { class: 'admin-page' }, el('h1', {}, 'Administration'),
    el('div', { class: 'analyst-grid' }, users.node, capacity.node, audit.node)));
  await Promise.all([users.load(), capacity.load(), audit.load()]);
  return null;
}
