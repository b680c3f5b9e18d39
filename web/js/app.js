// The workstation shell: who is signed in, the hash router, the navigation and the flash
// message. Pages are modules with render(main, ctx) that may return a cleanup function.
import { api, ApiError, setUnauthenticatedHandler } from './api.js';
import { parseHash } from './ui.js';
import * as loginPage from './pages/login.js';
import * as queuePage from './pages/queue.js';
import * as consignmentPage from './pages/consignment.js';
import * as analystPage from './pages/analyst.js';
import * as adminPage from './pages/admin.js';
import * as rulesPage from './pages/rules.js';
import * as horizonPage from './pages/horizon.js';
import * as trainingPage from './pages/training.js';
import * as casesPage from './pages/cases.js';

const ANALYST_ROLES = new Set(['analyst', 'admin']);
const QUEUE_ROLES = new Set(['officer', 'analyst', 'admin']);
const TRAINING_ROLES = new Set(['officer', 'trainer', 'admin']);
const CASE_ROLES = new Set(['trainer', 'admin']);  // analysts may read the cases too, without a link

const state = {
  user: null,         // {username, role, expires_at}
  cleanup: null,
  expiryTimer: null,
  renderSeq: 0,
};

const main = document.getElementById('main');
const nav = document.getElementById('nav');
const who = document.getElementById('who');
const flashBox = document.getElementById('flash');

export function flash(message, kind = 'info') {
  flashBox.textContent = message;
  flashBox.className = `flash flash-${kind}`;
  flashBox.hidden = !message;
}

function setUser(user) {
  state.user = user;
  clearTimeout(state.expiryTimer);
  nav.hidden = !user;
  who.hidden = !user;
  if (!user) return;
  document.getElementById('who-name').textContent = user.username;
  document.getElementById('who-role').textContent = user.role;
  nav.querySelector('[data-nav="analyst"]').hidden = !ANALYST_ROLES.has(user.role);
  nav.querySelector('[data-nav="queue"]').hidden = !QUEUE_ROLES.has(user.role);
  nav.querySelector('[data-nav="admin"]').hidden = user.role !== 'admin';
  nav.querySelector('[data-nav="rules"]').hidden = !ANALYST_ROLES.has(user.role);
  nav.querySelector('[data-nav="horizon"]').hidden = !ANALYST_ROLES.has(user.role);
  nav.querySelector('[data-nav="training"]').hidden = !TRAINING_ROLES.has(user.role);
  nav.querySelector('[data-nav="cases"]').hidden = !CASE_ROLES.has(user.role);
  // Leave for the login page when the session runs out, even if the officer is idle.
  const expires = Date.parse(user.expires_at || '');
  if (Number.isFinite(expires)) {
    const ms = expires - Date.now();
    if (ms > 0 && ms < 2 ** 31) state.expiryTimer = setTimeout(() => sessionEnded('Your session has expired. Please sign in again.'), ms + 500);
  }
}

function sessionEnded(message) {
  if (!state.user && parseHash().path === '/login') return;
  setUser(null);
  const back = parseHash();
  const next = back.path === '/login' ? '' : `&next=${encodeURIComponent(location.hash.slice(1))}`;
  location.hash = `#/login?expired=1${next}`;
  flash(message, 'warn');
}

setUnauthenticatedHandler(() => sessionEnded('Your session has expired or was ended. Please sign in again.'));

async function loadUser() {
  try {
    const me = await api.me();
    // /api/me may not say when the session ends; the login response did.
    const saved = JSON.parse(sessionStorage.getItem('cs-session') || 'null');
    if (!me.expires_at && saved && saved.username === me.username) me.expires_at = saved.expires_at;
    setUser(me);
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) flash(e.message, 'error');
    setUser(null);
  }
}

const ctx = {
  get user() { return state.user; },
  flash,
  async signedIn(user, next) {
    sessionStorage.setItem('cs-session', JSON.stringify({ username: user.username, expires_at: user.expires_at }));
    setUser(user);
    flash('');
    location.hash = next && next.startsWith('/') && !next.startsWith('/login') ? `#${next}` : '#/queue';
  },
  isAnalyst() { return !!state.user && ANALYST_ROLES.has(state.user.role); },
  reload() { route(); },
};

async function route() {
  const seq = ++state.renderSeq;
  const { path, params } = parseHash();
  if (state.cleanup) { try { state.cleanup(); } catch { /* ignore */ } state.cleanup = null; }
  if (path !== '/login' && !state.user) {
    await loadUser();
    if (seq !== state.renderSeq) return;
    if (!state.user) {
      location.replace(`#/login?next=${encodeURIComponent(location.hash.slice(1) || '/queue')}`);
      return;
    }
  }
  for (const a of nav.querySelectorAll('a')) {
    if (path.startsWith(`/${a.dataset.nav}`)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  let page;
  let arg;
  if (path === '/login') page = loginPage;
  else if (path === '/queue' || path === '/') page = queuePage;
  else if (path.startsWith('/consignment/')) { page = consignmentPage; arg = decodeURIComponent(path.slice('/consignment/'.length)); }
  else if (path === '/analyst') page = analystPage;
  else if (path === '/admin') page = adminPage;
  else if (path === '/rules') page = rulesPage;
  else if (path === '/horizon') page = horizonPage;
  else if (path === '/training') page = trainingPage;
  else if (path === '/cases') page = casesPage;
  else {
    main.textContent = `No page ${path}.`;
    return;
  }
  if (path !== '/login' && flashBox.classList.contains('flash-warn')) flash('');
  state.cleanup = (await page.render(main, { ...ctx, params, arg })) || null;
  // Move focus to the new page's heading for keyboard and screen-reader users.
  const h = main.querySelector('h1');
  if (h) { h.tabIndex = -1; h.focus({ preventScroll: true }); }
}

document.getElementById('logout').addEventListener('click', async () => {
  try { await api.logout(); } catch { /* the session may already be gone */ }
  setUser(null);
  flash('You are signed out.', 'info');
  location.hash = '#/login';
});

window.addEventListener('hashchange', route);
route();
