// Screener training (docs/training.md). For trainers and administrators: build a session, assign
// it to officers, follow their scores per threat class (d', c, hit and false-alarm rates, median
// time, certification) with a chart of d' over sessions, export the results. For officers: their
// assignments, then screening: the officers' viewer with every overlay off, a countdown per image,
// a click (or a dragged box) to mark the threat, Clear or Suspect (keys C and S), then the truth with the projected
// threat outlined and how its class looks in each channel, then Next (key N).
import { api } from '../api.js';
import { ScanViewer } from '../viewer/viewer.js';
import { loadScanData } from '../viewer/source.js';
import { loadChart } from './horizon.js';
import { el, errorBox, fmtNumber, fmtPercent, fmtTime, setTitle } from '../ui.js';

const TRAINER_ROLES = new Set(['trainer', 'admin']);
const CLASS_NAMES = {
  narcotics: 'Narcotics', firearm: 'Firearm', firearm_part: 'Firearm part', knife: 'Knife',
  cigarettes: 'Cigarettes', currency: 'Currency', lithium_battery: 'Lithium battery',
};
const OUTCOME_TEXT = {
  hit: 'Hit: you found the threat.',
  miss: 'Miss: there was a threat, and your answer did not find it.',
  false_alarm: 'False alarm: there was no threat in this image.',
  correct_rejection: 'Correct: there was no threat in this image.',
};
const className = (c) => (c ? CLASS_NAMES[c] || c : 'All classes');
const fmtD = (v) => (Number.isFinite(v) ? v.toFixed(2) : '—');
const fmtSeconds = (ms) => (Number.isFinite(ms) ? `${(ms / 1000).toFixed(1)} s` : '—');

export async function render(main, ctx) {
  setTitle('Training');
  const role = ctx.user?.role;
  if (TRAINER_ROLES.has(role)) return trainerPage(main, ctx);
  if (role === 'officer') {
    const session = ctx.params.get('session');
    return session ? screeningPage(main, ctx, session) : traineePage(main);
  }
  main.append(el('h1', {}, 'Training'), el('p', { class: 'error-box', role: 'alert' },
    `Screener training is for trainers, administrators and officers; your role is ${role}.`));
  return null;
}

// ---- Scores (both views) ---------------------------------------------------------------------

function scoresTable(scores, { trainees = true } = {}) {
  const rows = [];
  for (const t of scores.trainees || []) {
    const stairs = Object.fromEntries((t.staircase || []).map((x) => [x.class, x.level]));
    for (const c of t.classes || []) {
      rows.push(el('tr', { 'data-trainee': t.trainee, 'data-class': c.class || 'all' },
        trainees ? el('th', { scope: 'row' }, t.trainee) : null,
        el('td', {}, className(c.class)),
        el('td', { class: 'num', 'data-col': 'images' }, `${fmtNumber(c.hits)} / ${fmtNumber(c.signal_trials)}`),
        el('td', { class: 'num', 'data-col': 'hit-rate' }, c.hit_rate === null ? '—' : fmtPercent(c.hit_rate)),
        el('td', { class: 'num', 'data-col': 'fa-rate' }, c.false_alarm_rate === null ? '—' : fmtPercent(c.false_alarm_rate)),
        el('td', { class: 'num', 'data-col': 'd-prime' }, fmtD(c.d_prime)),
        el('td', { class: 'num', 'data-col': 'criterion' }, fmtD(c.criterion)),
        el('td', { class: 'num', 'data-col': 'a-prime' }, fmtD(c.a_prime)),
        el('td', { class: 'num', 'data-col': 'median' }, fmtSeconds(c.median_response_ms)),
        el('td', { class: 'num', 'data-col': 'level', title: 'Staircase level of the next image: 0 easiest (largest threat, least clutter) to 8' }, c.class && c.class in stairs ? `${stairs[c.class]} / 8` : ''),
        el('td', { 'data-col': 'certified' }, c.class ? '' : (t.certified ? 'Yes' : `No: ${t.certification}`))));
    }
  }
  const rule = scores.certification_rule || {};
  return el('table', { class: 'stats', id: 'training-progress' },
    el('caption', {}, `Over each trainee's last ${rule.window} images; certified at d′ ≥ ${rule.min_d_prime} on every class`),
    el('thead', {}, el('tr', {}, ...[trainees ? 'Trainee' : null, 'Threat class', 'Hits / threats', 'Hit rate', 'False-alarm rate', 'd′', 'c', 'A′', 'Median time', 'Level', 'Certified']
      .filter(Boolean).map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: trainees ? '11' : '10', class: 'muted' }, 'No answered images yet.'))));
}

async function dPrimeChart(holder, scores) {
  const Chart = await loadChart();
  if (!Chart) {
    holder.append(el('p', { class: 'warn' }, 'The chart needs Chart.js on the server (Debian package libjs-chart.js).'));
    return null;
  }
  const sessions = new Map();
  for (const t of scores.trainees || []) for (const s of t.sessions || []) sessions.set(s.session_id, s.name);
  const ids = [...sessions.keys()].sort((a, b) => a - b);
  if (!ids.length) return null;
  const colours = ['#2563eb', '#dc2626', '#059669', '#7c3aed', '#d97706', '#0891b2', '#be185d'];
  const canvas = el('canvas', { id: 'training-chart', width: '640', height: '240', role: 'img',
    'aria-label': `d′ of each trainee over ${ids.length} session${ids.length === 1 ? '' : 's'}` });
  holder.append(canvas);
  return new Chart(canvas, {
    type: 'line',
    data: {
      labels: ids.map((id) => `${id}: ${sessions.get(id)}`),
      datasets: (scores.trainees || []).filter((t) => (t.sessions || []).length).map((t, i) => ({
        label: t.trainee,
        data: ids.map((id) => t.sessions.find((s) => s.session_id === id)?.d_prime ?? null),
        borderColor: colours[i % colours.length],
        backgroundColor: colours[i % colours.length],
        spanGaps: true,
      })),
    },
    options: {
      animation: false,
      responsive: false,
      scales: { y: { title: { display: true, text: 'd′' } } },
    },
  });
}

// ---- Trainer ---------------------------------------------------------------------------------

async function trainerPage(main, ctx) {
  main.append(el('h1', {}, 'Training'));
  let list, scores;
  try {
    [list, scores] = await Promise.all([api.trainingSessions(), api.trainingScores()]);
  } catch (e) {
    main.append(errorBox(e, 'Training could not be loaded'));
    return null;
  }
  // Build a session.
  const num = (id, label, attrs) => [el('label', { for: id }, label), el('input', { id, type: 'number', ...attrs })];
  const classBoxes = (list.threat_classes || []).map((c) => el('label', { class: 'check', for: `training-class-${c}` },
    el('input', { type: 'checkbox', id: `training-class-${c}`, value: c, checked: true }), ` ${className(c)}`));
  const msg = el('div', { class: 'form-message', id: 'training-message', role: 'status', 'aria-live': 'polite' });
  const form = el('form', { id: 'training-form', class: 'training-form' },
    el('div', { class: 'filters' },
      el('label', { for: 'training-name' }, 'Name'), el('input', { id: 'training-name', required: true, maxlength: '200', value: `Session ${(list.sessions || []).length + 1}` }),
      ...num('training-images', 'Images', { min: '1', max: '500', value: '20' }),
      ...num('training-share', 'With a threat (%)', { min: '0', max: '100', value: '50' }),
      ...num('training-time', 'Seconds per image', { min: '3', max: '600', value: '20' }),
      el('label', { for: 'training-source' }, 'Images from'),
      el('select', { id: 'training-source' },
        el('option', { value: 'simulated' }, 'Simulated parcels'),
        el('option', { value: 'stored' }, 'Stored clean scans'),
        el('option', { value: 'mixed' }, 'Both'))),
    el('div', { class: 'filters' },
      ...num('training-size-min', 'Threat size from', { min: '0.2', max: '3', step: '0.05', value: '0.6' }),
      ...num('training-size-max', 'to', { min: '0.2', max: '3', step: '0.05', value: '1.2' }),
      ...num('training-clutter-min', 'Clutter from', { min: '0', max: '1', step: '0.05', value: '0' }),
      ...num('training-clutter-max', 'to', { min: '0', max: '1', step: '0.05', value: '1' })),
    el('fieldset', { class: 'filters training-classes' }, el('legend', {}, 'Threat classes'), classBoxes),
    el('p', {}, el('button', { type: 'submit', class: 'primary', id: 'training-build' }, 'Build session')), msg);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const v = (id) => +form.querySelector(`#${id}`).value;
    const settings = {
      images: v('training-images'), threat_share: v('training-share') / 100, time_limit_s: v('training-time'),
      size_min: v('training-size-min'), size_max: v('training-size-max'),
      clutter_min: v('training-clutter-min'), clutter_max: v('training-clutter-max'),
      source: form.querySelector('#training-source').value,
      threat_classes: classBoxes.map((l) => l.querySelector('input')).filter((i) => i.checked).map((i) => i.value),
    };
    try {
      const s = await api.createTrainingSession(form.querySelector('#training-name').value, settings);
      ctx.flash(`Session “${s.name}” built: assign it to officers below.`, 'info');
      ctx.reload();
    } catch (err) {
      msg.className = 'form-message error';
      msg.textContent = err.message;
    }
  });

  // Sessions with their trainees and assignment.
  const sessionRows = (list.sessions || []).map((s) => {
    const select = el('select', { id: `assign-${s.session_id}`, multiple: true, size: String(Math.min(4, Math.max(2, list.trainees.length))), 'aria-label': `Officers to assign to ${s.name}` },
      (list.trainees || []).map((u) => el('option', { value: u, disabled: s.assigned.some((a) => a.trainee === u) }, u)));
    const assign = el('button', { type: 'button', class: 'assign', 'data-session': String(s.session_id) }, 'Assign');
    assign.addEventListener('click', async () => {
      const trainees = [...select.selectedOptions].map((o) => o.value);
      if (!trainees.length) { ctx.flash('Choose one or more officers to assign.', 'warn'); return; }
      try {
        await api.assignTraining(s.session_id, trainees);
        ctx.flash(`Assigned ${s.name} to ${trainees.join(', ')}.`, 'info');
        ctx.reload();
      } catch (err) { ctx.flash(err.message, 'error'); }
    });
    const st = s.settings || {};
    return el('tr', { 'data-session': String(s.session_id) },
      el('th', { scope: 'row' }, s.name, el('div', { class: 'muted small' }, `by ${s.trainer}, ${fmtTime(s.created_at)}`)),
      el('td', {}, `${st.images} images, ${fmtPercent(st.threat_share, 0)} with a threat, ${st.time_limit_s} s each; ` +
        `${(st.threat_classes || []).length ? st.threat_classes.map(className).join(', ') : 'all classes'}; ${st.source}` +
        ((st.cases || []).length ? `; ${st.cases.length} real case${st.cases.length === 1 ? '' : 's'} of the case library` : '')),
      el('td', { class: 'assigned' }, s.assigned.length
        ? el('ul', { class: 'plain' }, s.assigned.map((a) => el('li', { 'data-trainee': a.trainee }, `${a.trainee}: ${a.answered} of ${a.images}`)))
        : el('span', { class: 'muted' }, 'nobody yet')),
      el('td', {}, select, ' ', assign));
  });
  const sessionsTable = el('table', { class: 'stats', id: 'training-sessions' },
    el('caption', {}, 'Sessions'),
    el('thead', {}, el('tr', {}, ...['Session', 'Settings', 'Trainees (answered)', 'Assign'].map((h) => el('th', { scope: 'col' }, h)))),
    el('tbody', {}, sessionRows.length ? sessionRows : el('tr', {}, el('td', { colspan: '4', class: 'muted' }, 'No session yet.'))));

  // Certification rule and progress.
  const rule = scores.certification_rule || {};
  const ruleForm = el('form', { class: 'filters', id: 'training-rule' },
    el('label', { for: 'cert-dprime' }, 'Certify at d′ ≥'), el('input', { id: 'cert-dprime', type: 'number', min: '0', max: '6', step: '0.1', value: String(rule.min_d_prime) }),
    el('label', { for: 'cert-window' }, 'over the last'), el('input', { id: 'cert-window', type: 'number', min: '10', max: '10000', value: String(rule.window) }),
    el('span', {}, 'images'), el('button', { type: 'submit' }, 'Save rule'));
  ruleForm.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      await api.putTrainingCertification(+ruleForm.querySelector('#cert-dprime').value, +ruleForm.querySelector('#cert-window').value);
      ctx.reload();
    } catch (err) { ctx.flash(err.message, 'error'); }
  });
  const chartHolder = el('div', { class: 'training-chart' });
  main.append(
    el('section', { 'aria-labelledby': 'training-build-h' }, el('h2', { id: 'training-build-h' }, 'Build a session'), form),
    el('section', { 'aria-labelledby': 'training-sessions-h' }, el('h2', { id: 'training-sessions-h' }, 'Sessions and trainees'), sessionsTable),
    el('section', { 'aria-labelledby': 'training-progress-h' }, el('h2', { id: 'training-progress-h' }, 'Progress'),
      ruleForm, scoresTable(scores),
      el('p', {}, el('a', { href: '/api/training/results.csv', download: 'training-results.csv', id: 'training-csv' }, 'Export every answer as CSV')),
      el('h3', {}, 'd′ over sessions (all classes)'), chartHolder));
  const chart = await dPrimeChart(chartHolder, scores);
  return () => chart?.destroy();
}

// ---- Trainee ---------------------------------------------------------------------------------

async function traineePage(main) {
  main.append(el('h1', {}, 'Training'));
  let mine, scores;
  try {
    [mine, scores] = await Promise.all([api.trainingAssignments(), api.trainingScores()]);
  } catch (e) {
    main.append(errorBox(e, 'Your training could not be loaded'));
    return null;
  }
  const rows = (mine.assignments || []).map((a) => el('tr', { 'data-session': String(a.session_id) },
    el('th', { scope: 'row' }, a.name),
    el('td', {}, a.trainer),
    el('td', { class: 'num' }, `${a.answered} of ${a.images}`),
    el('td', {}, `${a.time_limit_s} s`),
    el('td', {}, a.done ? el('span', { class: 'muted' }, 'Done')
      : el('a', { href: `#/training?session=${a.session_id}`, class: 'button primary start' }, a.answered ? 'Continue' : 'Start'))));
  main.append(
    el('table', { class: 'stats', id: 'training-assignments' },
      el('caption', {}, 'My training sessions'),
      el('thead', {}, el('tr', {}, ...['Session', 'Trainer', 'Answered', 'Time per image', ''].map((h) => el('th', { scope: 'col' }, h)))),
      el('tbody', {}, rows.length ? rows : el('tr', {}, el('td', { colspan: '5', class: 'muted' }, 'No training session is assigned to you.')))),
    el('h2', {}, 'My scores'), scoresTable(scores, { trainees: false }));
  return null;
}

// The mark as the API takes it: a point {x, y} or a box {x0, y0, x1, y1}, to a tenth of a pixel.
function markJson(mark) {
  if (!mark) return null;
  const r = (v) => Math.round(v * 10) / 10;
  if (mark.x0 !== undefined) return { x0: r(mark.x0), y0: r(mark.y0), x1: r(mark.x1), y1: r(mark.y1) };
  return { x: r(mark.x), y: r(mark.y) };
}

async function screeningPage(main, ctx, sessionId) {
  const heading = el('h1', {}, 'Training');
  const progress = el('p', { class: 'muted', id: 'training-image-no', role: 'status' }, 'Preparing the image…');
  const countdown = el('p', { class: 'training-countdown', id: 'training-countdown', 'aria-live': 'off' });
  const help = el('p', { class: 'muted' }, 'Click the threat, or drag a box around it (Shift+drag or the arrow keys pan), then decide: Clear (C) or Suspect (S). Every overlay is off.');
  const clear = el('button', { type: 'button', id: 'training-clear', disabled: true }, 'Clear (C)');
  const suspect = el('button', { type: 'button', id: 'training-suspect', class: 'danger', disabled: true }, 'Suspect (S)');
  const next = el('button', { type: 'button', id: 'training-next', class: 'primary', hidden: true }, 'Next image (N)');
  const result = el('section', { id: 'training-result', class: 'training-result', hidden: true, 'aria-live': 'polite' });
  const viewerRoot = el('div', { id: 'training-viewer' });
  main.append(heading, progress, countdown, help, viewerRoot,
    el('p', { class: 'training-actions' }, clear, ' ', suspect, ' ', next), result,
    el('p', {}, el('a', { href: '#/training' }, 'Back to my sessions')));
  let viewer = null, trial = null, shownAt = 0, timer = null, answered = false, mark = null;

  const stopTimer = () => { clearInterval(timer); timer = null; };
  async function answer(decision, timedOut = false) {
    if (!trial || answered) return;
    answered = true;
    stopTimer();
    clear.disabled = suspect.disabled = true;
    const elapsed = timedOut ? trial.time_limit_s * 1000 : Math.round(performance.now() - shownAt);
    let r;
    try {
      r = await api.trainingResponse(trial.trial_id, {
        decision, mark: markJson(mark),
        response_ms: elapsed, timed_out: timedOut,
      });
    } catch (e) {
      result.hidden = false;
      result.replaceChildren(errorBox(e, 'The answer was not recorded'));
      return;
    }
    const t = r.truth;
    if (t.threat) viewer.setTruth(t.box, className(t.class));
    result.hidden = false;
    result.dataset.outcome = r.outcome;
    result.className = `training-result outcome-${r.correct ? 'right' : 'wrong'}`;
    result.replaceChildren(
      el('h2', {}, r.correct ? '✓ ' : '✗ ', OUTCOME_TEXT[r.outcome] || r.outcome, r.timed_out ? ' (time ran out)' : ''),
      t.threat
        ? el('div', {}, el('p', {}, el('strong', {}, className(t.class)), ` — outlined in green. ${t.look.summary}`),
          el('dl', { class: 'training-look' },
            el('dt', {}, 'High energy'), el('dd', {}, t.look.high_energy),
            el('dt', {}, 'Low energy'), el('dd', {}, t.look.low_energy),
            el('dt', {}, 'Material colour'), el('dd', {}, t.look.material)))
        : el('p', {}, 'This image had no projected threat.'));
    next.hidden = false;
    next.textContent = r.more ? 'Next image (N)' : 'Finish (N)';
    next.focus();
  }

  async function load() {
    stopTimer();
    answered = false;
    mark = null;
    trial = null;
    result.hidden = true;
    next.hidden = true;
    clear.disabled = suspect.disabled = true;
    countdown.textContent = '';
    progress.textContent = 'Preparing the image…';
    let n;
    try {
      n = await api.trainingNext(sessionId);
    } catch (e) {
      progress.replaceChildren(errorBox(e, 'The next image could not be made'));
      return;
    }
    if (n.done) {
      viewer?.destroy();
      viewer = null;
      progress.textContent = `Session complete: ${n.answered} of ${n.images} images answered.`;
      clear.hidden = suspect.hidden = true;
      help.hidden = true;
      const scores = await api.trainingScores().catch(() => null);
      main.querySelector('#training-done')?.remove();
      main.append(el('section', { id: 'training-done' }, el('h2', {}, 'My scores'), scores ? scoresTable(scores, { trainees: false }) : null));
      return;
    }
    trial = n;
    heading.textContent = `Training — image ${n.index + 1} of ${n.images}`;
    progress.textContent = 'Loading the scan…';
    viewer?.destroy();
    viewer = new ScanViewer(viewerRoot, {
      idPrefix: 'tv', overlays: false,
      onMark: (x, y) => { if (!answered) { mark = { x, y }; viewer.setMark(mark); } },
      onMarkBox: (x0, y0, x1, y1) => { if (!answered) { mark = { x0, y0, x1, y1 }; viewer.setMark(mark); } },
    });
    window.__clearsightViewer = viewer;  // for the browser tests
    try {
      const scan = await api.scan(n.scan_id);
      const { data, channels, approximate, source } = await loadScanData(scan);
      viewer.setData(data, channels, { approximate, source });
      viewerRoot.dataset.ready = 'true';
    } catch (e) {
      viewer.setStatus(`The scan could not be shown: ${e.message}`, true);
      viewerRoot.dataset.ready = 'error';
      return;
    }
    progress.textContent = `Image ${n.index + 1} of ${n.images}: ${n.time_limit_s} s.`;
    clear.disabled = suspect.disabled = false;
    shownAt = performance.now();
    const tick = () => {
      const left = n.time_limit_s - (performance.now() - shownAt) / 1000;
      countdown.textContent = `${Math.max(0, Math.ceil(left))} s left`;
      countdown.classList.toggle('urgent', left <= 5);
      if (left <= 0) answer('clear', true);
    };
    tick();
    timer = setInterval(tick, 250);
    viewer.stage.focus();
  }

  clear.addEventListener('click', () => answer('clear'));
  suspect.addEventListener('click', () => answer('suspect'));
  next.addEventListener('click', () => load());
  const onKey = (e) => {
    if (e.altKey || e.ctrlKey || e.metaKey || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
    const k = e.key.toLowerCase();
    if (k === 'c' && !clear.disabled) { e.preventDefault(); answer('clear'); }
    else if (k === 's' && !suspect.disabled) { e.preventDefault(); answer('suspect'); }
    else if (k === 'n' && !next.hidden) { e.preventDefault(); load(); }
  };
  document.addEventListener('keydown', onKey);
  load();
  return () => { stopTimer(); viewer?.destroy(); document.removeEventListener('keydown', onKey); };
}
