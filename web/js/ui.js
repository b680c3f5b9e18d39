// Small DOM and formatting helpers shared by the pages.

export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') e.className = v;
    else if (k === 'dataset') Object.assign(e.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'value' && 'value' in e) e.value = v;
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, v);
  }
  for (const c of children.flat()) if (c !== null && c !== undefined && c !== false) e.append(c);
  return e;
}

const CHANNEL_TEXT = { red: 'Red · inspect', yellow: 'Yellow · documents', green: 'Green · release' };
const CHANNEL_ICON = { red: '■', yellow: '▲', green: '●' };

// Channel as colour, shape and words: never colour alone.
export function channelBadge(channel, { control = false } = {}) {
  const c = String(channel || '').toLowerCase();
  return el('span', { class: `badge channel channel-${c || 'none'}`, 'data-channel': c },
    el('span', { class: 'icon', 'aria-hidden': 'true' }, CHANNEL_ICON[c] || '○'), ' ',
    CHANNEL_TEXT[c] || (c || 'no decision'),
    control ? el('span', { class: 'control-tag', title: 'Drawn at random for the control sample' }, ' · control') : null);
}

export function statusBadge(status) {
  const text = { pending: 'Pending', released: 'Released', done: 'Done' }[status] || status || '—';
  return el('span', { class: `badge status status-${status}`, 'data-status': status }, text);
}

export function fmtNumber(v, digits = 0) {
  if (v === null || v === undefined || v === '' || !Number.isFinite(+v)) return '—';
  return (+v).toLocaleString('en-GB', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

// A small number with its significant digits (0.0015, not 0.00).
export function fmtSignificant(v, digits = 3) {
  if (v === null || v === undefined || v === '' || !Number.isFinite(+v)) return '—';
  return Math.abs(+v) >= 1 ? fmtNumber(v, 2) : String(+(+v).toPrecision(digits));
}

export function fmtMoney(v, currency) {
  if (!Number.isFinite(+v)) return '—';
  return `${fmtNumber(v, 2)}${currency ? ` ${currency}` : ''}`;
}

export function fmtPercent(v, digits = 1) {
  if (!Number.isFinite(+v)) return '—';
  return `${(100 * v).toFixed(digits)} %`;
}

export function fmtTime(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'medium' });
}

export function errorBox(err, what) {
  return el('div', { class: 'error-box', role: 'alert' },
    el('strong', {}, what ? `${what}: ` : 'Error: '), err?.message || String(err));
}

// The route part of the hash: "#/queue?channel=red" -> {path: "/queue", params}.
export function parseHash(hash = location.hash) {
  const h = hash.replace(/^#/, '') || '/queue';
  const [path, q = ''] = h.split('?');
  return { path, params: new URLSearchParams(q) };
}

export function setTitle(text) {
  document.title = `${text} — Clearsight`;
}

// Wilson score interval for a proportion (95 %).
export function wilson(successes, n, z = 1.96) {
  if (!n) return null;
  const p = successes / n;
  const d = 1 + (z * z) / n;
  const centre = (p + (z * z) / (2 * n)) / d;
  const half = (z * Math.sqrt((p * (1 - p)) / n + (z * z) / (4 * n * n))) / d;
  return [Math.max(0, centre - half), Math.min(1, centre + half)];
}

// A CSV file (RFC 4180: fields with a comma, quote or line break are quoted) offered as a
// download named `name`.
export function downloadCsv(name, header, rows) {
  const cell = (v) => {
    const s = v === null || v === undefined ? '' : String(v);
    return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
  };
  const text = [header, ...rows].map((r) => r.map(cell).join(',')).join('\r\n') + '\r\n';
  const url = URL.createObjectURL(new Blob([text], { type: 'text/csv;charset=utf-8' }));
  const a = el('a', { href: url, download: name, hidden: true });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}
