// Sign in. The service sets the session cookie; the page only sends the credentials.
import { api } from '../api.js';
import { el, setTitle } from '../ui.js';

export async function render(main, ctx) {
  setTitle('Sign in');
  const next = ctx.params.get('next') || '';
  const error = el('p', { class: 'form-error', id: 'login-error', role: 'alert', hidden: true });
  const user = el('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, autocapitalize: 'off', spellcheck: 'false' });
  const pass = el('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const submit = el('button', { type: 'submit', class: 'primary' }, 'Sign in');
  const form = el('form', { class: 'login-form', 'aria-describedby': 'login-error', novalidate: true },
    el('label', { for: 'username' }, 'User name'), user,
    el('label', { for: 'password' }, 'Password'), pass,
    error, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    error.hidden = true;
    if (!user.value.trim() || !pass.value) {
      error.textContent = 'Enter your user name and password.';
      error.hidden = false;
      (user.value.trim() ? pass : user).focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Signing in…';
    try {
      const session = await api.login(user.value.trim(), pass.value);
      const me = session?.username ? session : await api.me();
      await ctx.signedIn(me, next);
    } catch (err) {
      error.textContent = err.status === 401 || err.status === 403
        ? 'User name or password is not right.'
        : err.status === 429
          ? `Too many failed sign-ins: ${err.message.replace(/^too many failed logins /, '')}.`
          : err.message;
      error.hidden = false;
      pass.value = '';
      pass.focus();
    } finally {
      submit.disabled = false;
      submit.textContent = 'Sign in';
    }
  });
  main.append(el('section', { class: 'login-page' },
    el('h1', {}, 'Sign in to Clearsight'),
    el('p', { class: 'muted' }, 'Officer workstation: inspection queue, scan viewer and outcomes.'),
    form));
  if (ctx.user && !ctx.params.get('expired')) {
    main.querySelector('.login-page').append(el('p', {}, `You are signed in as ${ctx.user.username}. `, el('a', { href: '#/queue' }, 'Go to the queue')));
  }
  user.focus();
}
