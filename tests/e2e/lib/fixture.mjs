// The e2e fixture: simulated scans and declarations made by the CLI, a trained model, a
// calibration, reference-price history and a rule profile; a real `clearsight serve` on a free
// loopback port with a temporary SQLite database; users; data submitted through the real API.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const ROOT = resolve(new URL('../../..', import.meta.url).pathname);

function log(...a) { console.log('[fixture]', ...a); }

// RFC 4180-ish CSV (the simulator's output has no embedded newlines).
export function parseCsv(text) {
  const lines = text.trim().split(/\r?\n/);
  const split = (line) => {
    const out = [];
    let cur = '', q = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (q) { if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (c === '"') q = false; else cur += c; }
      else if (c === '"') q = true;
      else if (c === ',') { out.push(cur); cur = ''; }
      else cur += c;
    }
    out.push(cur);
    return out;
  };
  const head = split(lines[0]);
  return lines.slice(1).map((l) => Object.fromEntries(split(l).map((v, i) => [head[i], v])));
}

function csvLine(values) {
  return values.map((v) => (/[",\n]/.test(String(v)) ? `"${String(v).replace(/"/g, '""')}"` : String(v))).join(',');
}

// Makes all inputs in `dir`. Options: count (scans), width, height, trees.
export function makeInputs(cli, dir, { count = 14, width = 512, height = 384, trees = 10, seed = 11 } = {}) {
  const run = (...args) => execFileSync(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  const t0 = Date.now();
  run('xray', 'simulate', '--count', String(count), '--seed', String(seed), '--out', join(dir, 'sim'),
    '--width', String(width), '--height', String(height), '--threat-rate', '0.4', '--undervalued-rate', '0.3', '--misdeclared-rate', '0.2');
  run('xray', 'wedges', '--out', join(dir, 'wedges'), '--height', String(height));
  run('xray', 'calibrate', '--wedges', join(dir, 'wedges'), '--out', join(dir, 'calibration.json'));
  run('model', 'train', '--train', join(ROOT, 'data/public/customs/df_syn_train_eng.csv'), '--out', join(dir, 'model'),
    '--trees', String(trees), '--no-baseline', '--threads', '2');

  const decls = parseCsv(readFileSync(join(dir, 'sim/declarations.csv'), 'utf8'));
  const truth = Object.fromEntries(parseCsv(readFileSync(join(dir, 'sim/declarations_truth.csv'), 'utf8')).map((t) => [t.declaration_id, t]));
  // Two offices, so the queue has something to filter on.
  decls.forEach((d, i) => { d.office_id = i % 2 ? 'BUS2' : 'ICN1'; });

  // Reference-price history: honest past declarations of the same goods at their true unit
  // price, spread by +-20 %, so that under-valued ones stand out.
  const cols = ['declaration_id', 'date', 'importer_id', 'hs_code', 'origin_country', 'net_mass_kg', 'declared_value', 'office_id', 'currency'];
  const hist = [cols.join(',')];
  let k = 0;
  for (const d of decls) {
    const t = truth[d.declaration_id];
    const unit = (+t.true_value) / (+d.net_mass_kg);
    for (let i = 0; i < 40; i++) {
      const mass = 0.5 + ((i * 37) % 23) / 5;
      const spread = 0.8 + 0.4 * (((i * 53) % 41) / 40);
      hist.push(csvLine([`H${k++}`, '2024-01-15', `HIMP${i % 9}`, t.true_hs_code, d.origin_country, mass.toFixed(3), (unit * mass * spread).toFixed(2), d.office_id, d.currency || 'EUR']));
    }
  }
  writeFileSync(join(dir, 'history.csv'), hist.join('\n') + '\n');

  // A rule that certainly hits some simulated declarations (the ICN1 office), and one that
  // never does; both show on the analyst page with their counts.
  writeFileSync(join(dir, 'e2e.rules'), [
    'rule "icn1 air parcels"',
    '  when office_id = "ICN1" and mode_of_transport = "air"',
    '  then score +0.2',
    '  reason "air parcels through ICN1 are under a targeted check"',
    '  owner "e2e"',
    'end',
    '',
    'rule "watch-listed importer"',
    '  when importer_id = "IMP-WATCH"',
    '  then score +0.9',
    '  reason "importer on the watch list"',
    '  owner "e2e"',
    'end',
    '',
    'rule "never matches"',
    '  when net_mass_kg > 1000000',
    '  then channel red',
    '  reason "impossible mass"',
    'end',
    '',
  ].join('\n'));
  log(`inputs made in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${decls.length} declarations, ${count} scans`);
  const scans = readdirSync(join(dir, 'sim')).filter((f) => f.endsWith('.tif')).sort().map((f) => join(dir, 'sim', f));
  return { decls, truth, scans };
}

// Adds the users with the CLI (`clearsight users add`), then starts `clearsight serve` on a free
// loopback port (--port 0, the bound port read from --port-file) and waits for /api/health.
export function addUsers(cli, db, users) {
  for (const u of users) {
    execFileSync(cli, ['users', 'add', '--db', db, '--user', u.username, '--role', u.role, '--password-stdin'],
      { input: `${u.password}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
  }
}

export async function startServer(cli, dir, { webDir = join(ROOT, 'web'), sessionHours } = {}) {
  const portFile = join(dir, `port-${Date.now()}`);
  const args = ['serve', '--db', join(dir, 'clearsight.db'), '--host', '127.0.0.1', '--port', '0', '--port-file', portFile,
    '--web', webDir, '--calibration', join(dir, 'calibration.json'), '--model', join(dir, 'model'),
    '--rules', join(dir, 'e2e.rules'), '--valuation-history', join(dir, 'history.csv'), '--threads', '8'];
  if (sessionHours) args.push('--session-hours', String(sessionHours));
  const proc = spawn(cli, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  proc.stdout.on('data', (d) => { output += d; });
  proc.stderr.on('data', (d) => { output += d; });
  const deadline = Date.now() + 90000;
  let base = null;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`clearsight serve exited with ${proc.exitCode}:\n${output}`);
    if (!base && existsSync(portFile)) {
      const port = parseInt(readFileSync(portFile, 'utf8'), 10);
      if (port > 0) base = `http://127.0.0.1:${port}`;
    }
    if (base) {
      try {
        const r = await fetch(`${base}/api/health`);
        if (r.ok) break;
      } catch { /* not up yet */ }
    }
    if (Date.now() > deadline) { proc.kill('SIGKILL'); throw new Error(`clearsight serve did not answer within 90 s:\n${output}`); }
    await new Promise((r) => setTimeout(r, 100));
  }
  log(`server up at ${base}`);
  return {
    base, proc, output: () => output,
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await Promise.race([new Promise((r) => proc.once('exit', r)), new Promise((r) => setTimeout(r, 10000))]);
      if (proc.exitCode === null) { proc.kill('SIGKILL'); await new Promise((r) => proc.once('exit', r)); }
    },
  };
}

// A small API client with its own session (Bearer token), for seeding and for checks.
export async function apiClient(base, username, password) {
  const r = await fetch(`${base}/api/login`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ username, password }) });
  if (!r.ok) throw new Error(`login as ${username}: HTTP ${r.status} ${await r.text()}`);
  const { token } = await r.json();
  const call = async (method, path, body, headers = {}) => {
    const init = { method, headers: { Authorization: `Bearer ${token}`, ...headers } };
    if (body instanceof FormData) init.body = body;
    else if (body !== undefined) { init.body = JSON.stringify(body); init.headers['Content-Type'] = 'application/json'; }
    const res = await fetch(`${base}${path}`, init);
    const text = await res.text();
    let json = null;
    try { json = JSON.parse(text); } catch { /* not JSON */ }
    return { status: res.status, json, text };
  };
  return { token, call, get: (p) => call('GET', p), post: (p, b) => call('POST', p, b) };
}

// Submits the declarations (as JSON, one batch) and the scans (multipart TIFF + sidecar).
export async function seed(client, { decls, scans }) {
  const numeric = new Set(['net_mass_kg', 'declared_value', 'supplementary_units', 'tax_rate', 'revenue_recovered']);
  const body = decls.map((d) => Object.fromEntries(Object.entries(d)
    .filter(([k, v]) => v !== '' && !['inspected', 'fraud', 'critical', 'revenue_recovered'].includes(k))
    .map(([k, v]) => [k, numeric.has(k) ? +v : v])));
  const r = await client.post('/api/declarations', { declarations: body });
  if (r.status !== 200 || r.json.created !== decls.length) throw new Error(`declarations: HTTP ${r.status} ${r.text.slice(0, 2000)}`);
  for (const tif of scans) {
    const form = new FormData();
    form.append('tiff', new Blob([readFileSync(tif)], { type: 'image/tiff' }), tif.split('/').pop());
    form.append('sidecar', new Blob([readFileSync(tif.replace(/\.tif$/, '.json'))], { type: 'application/json' }), 'sidecar.json');
    const s = await client.call('POST', '/api/scans', form);
    if (s.status !== 201) throw new Error(`scan ${tif}: HTTP ${s.status} ${s.text.slice(0, 500)}`);
  }
  log(`seeded ${decls.length} declarations and ${scans.length} scans`);
}

export function tempDir(prefix = 'cs-e2e-') {
  const d = mkdtempSync(join(tmpdir(), prefix));
  mkdirSync(join(d, 'profile'));
  return { dir: d, remove: () => rmSync(d, { recursive: true, force: true }) };
}
