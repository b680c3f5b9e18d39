// The service's HTTP API (docs/api.md) as the workstation uses it. Every call goes through
// request(): JSON in and out, the session cookie sent by the browser, one error type. A 401 on
// any call other than login means the session expired or was ended: the app sends the officer
// back to the login page with a message.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

let onUnauthenticated = () => {};
export function setUnauthenticatedHandler(fn) { onUnauthenticated = fn; }

// `body` goes as JSON; `bytes` (a File or Blob) goes as it is, with `contentType`.
async function request(method, path, { body, bytes, contentType, query, raw = false, signal, auth = true } = {}) {
  let url = path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
    const s = q.toString();
    if (s) url += `?${s}`;
  }
  const init = { method, credentials: 'same-origin', headers: {}, signal };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  } else if (bytes !== undefined) {
    init.headers['Content-Type'] = contentType;
    init.body = bytes;
  }
  let res;
  try {
    res = await fetch(url, init);
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The server cannot be reached. Check the connection and try again.');
  }
  if (!res.ok) {
    let code = 'http_' + res.status;
    let message = `${method} ${path}: HTTP ${res.status}`;
    try {
      const j = await res.json();
      if (j?.error) { code = j.error.code || code; message = j.error.message || message; }
    } catch { /* not JSON */ }
    const err = new ApiError(res.status, code, message);
    if (res.status === 401 && auth) onUnauthenticated(err);
    throw err;
  }
  if (raw) return res;
  if (res.status === 204) return null;
  const type = res.headers.get('Content-Type') || '';
  return type.includes('json') ? res.json() : res.text();
}

export const api = {
  login: (username, password) => request('POST', '/api/login', { body: { username, password }, auth: false }),
  logout: () => request('POST', '/api/logout', { auth: false }),
  me: () => request('GET', '/api/me', { auth: false }),

  // {total, limit, offset, items: [decision]}; filters: office, channel, status, sort, limit, offset.
  queue: (filters, signal) => request('GET', '/api/queue', { query: filters, signal }),
  // Administration (admin role; the capacity is readable by analysts too).
  rules: () => request('GET', '/api/rules'),
  // The profile goes as {"text": ...}: with the session cookie a body must be JSON.
  testRules: (text, days) => request('POST', '/api/rules/test', { query: { days }, body: { text } }),
  putRules: (text, allowFields) => request('PUT', '/api/rules', { query: { allow_fields: (allowFields || []).join(',') }, body: { text } }),
  // The profile's history: {in_force, versions: [{version, author, created_at, lines, restored_from, in_force}]}.
  rulesVersions: (limit) => request('GET', '/api/rules/versions', { query: { limit } }),
  rulesVersion: (v) => request('GET', `/api/rules/versions/${encodeURIComponent(v)}`),
  // {from, to, identical, added, removed, lines: [{op, text, old, new}]}: `v` against the one in force.
  rulesDiff: (v, against) => request('GET', `/api/rules/versions/${encodeURIComponent(v)}/diff`, { query: { against } }),
  // `v`'s text activated as a new version; `expected`: the version in force as the page saw it.
  rollbackRules: (v, expected) => request('POST', '/api/rules/rollback', { body: { version: v, expected_version: expected } }),
  // Horizon scanning on the store: {since, from, to, declarations, tested, signals} (docs/horizon.md).
  horizon: (since, kinds, baselineWeeks, fdr) => request('GET', '/api/horizon',
    { query: { since, kinds, baseline_weeks: baselineWeeks, fdr } }),
  users: () => request('GET', '/api/users'),
  // Creates a user, or sets an existing one's role and password (its sessions end).
  putUser: (username, role, password) => request('POST', '/api/users', { body: { username, role, password } }),
  disableUser: (name) => request('POST', `/api/users/${encodeURIComponent(name)}/disable`),
  enableUser: (name) => request('POST', `/api/users/${encodeURIComponent(name)}/enable`),
  endSessions: (name) => request('DELETE', `/api/users/${encodeURIComponent(name)}/sessions`),
  audit: (after, limit) => request('GET', '/api/audit', { query: { after, limit } }),
  verifyAudit: () => request('GET', '/api/audit/verify'),
  capacity: () => request('GET', '/api/settings/capacity'),
  putCapacity: (body) => request('PUT', '/api/settings/capacity', { body }),
  // {offices: [{office, total, pending, released, done}]}, for the office filter.
  offices: (signal) => request('GET', '/api/offices', { signal }),
  // The decision with reasons, declarations, scans and outcomes.
  consignment: (id, signal) => request('GET', `/api/consignments/${encodeURIComponent(id)}`, { signal }),
  recordOutcome: (id, outcome) => request('POST', `/api/consignments/${encodeURIComponent(id)}/outcome`, { body: outcome }),
  // A photo of the find (a JPEG or PNG File) attached to outcome `seq`: {sha256, url, ...}.
  attachPhoto: (id, seq, file) => request('POST', `/api/consignments/${encodeURIComponent(id)}/outcomes/${encodeURIComponent(seq)}/attachments`,
    { query: { name: file.name }, bytes: file, contentType: file.type }),

  scan: (id) => request('GET', `/api/scans/${encodeURIComponent(id)}`),
  // Raw per-pixel channel as an ArrayBuffer with its dtype and size, or null when the server
  // does not offer it (no calibration: 409; unknown channel: 404).
  async scanChannel(id, name) {
    try {
      const res = await request('GET', `/api/scans/${encodeURIComponent(id)}/channels/${encodeURIComponent(name)}`, { raw: true });
      return { buffer: await res.arrayBuffer(), dtype: res.headers.get('X-Dtype'), width: +res.headers.get('X-Width'), height: +res.headers.get('X-Height') };
    } catch (e) {
      if (e instanceof ApiError && (e.status === 404 || e.status === 409 || e.status === 501)) return null;
      throw e;
    }
  },
  async scanTiff(url) {
    const res = await request('GET', url, { raw: true });
    return res.arrayBuffer();
  },
  scanImageUrl: (id, view, params = {}) => {
    const q = new URLSearchParams({ view, ...params });
    return `/api/scans/${encodeURIComponent(id)}/image.png?${q}`;
  },
  scanPixel: (id, x, y) => request('GET', `/api/scans/${encodeURIComponent(id)}/pixel`, { query: { x, y } }),

  stats: () => request('GET', '/api/stats'),
  // Rules over time: weekly hits, inspected, confirmed and precision per rule, with flags.
  ruleStats: (weeks) => request('GET', '/api/rules/stats', { query: { weeks } }),
  // The model registry: {live, serving, serving_error, models}; promote and roll back (audited).
  models: () => request('GET', '/api/models'),
  promoteModel: (version, reason) => request('POST', `/api/models/${encodeURIComponent(version)}/promote`, { body: { reason } }),
  rollbackModel: (reason) => request('POST', '/api/models/rollback', { body: { reason } }),

  // Screener training (docs/training.md).
  trainingSessions: () => request('GET', '/api/training/sessions'),
  createTrainingSession: (name, settings) => request('POST', '/api/training/sessions', { body: { name, settings } }),
  assignTraining: (id, trainees) => request('POST', `/api/training/sessions/${encodeURIComponent(id)}/assign`, { body: { trainees } }),
  trainingAssignments: () => request('GET', '/api/training/assignments'),
  // {done, trial_id, index, images, scan_id, time_limit_s}: no truth until the answer.
  trainingNext: (id) => request('GET', `/api/training/sessions/${encodeURIComponent(id)}/next`),
  // {decision, mark, response_ms, timed_out} -> {outcome, hit, correct, truth, more}.
  trainingResponse: (trialId, body) => request('POST', `/api/training/trials/${encodeURIComponent(trialId)}/response`, { body }),
  trainingScores: () => request('GET', '/api/training/scores'),
  // The case library: {total, limit, offset, items, results}; one case; its teaching flag and tags.
  cases: (filters) => request('GET', '/api/cases', { query: filters }),
  caseDetail: (id) => request('GET', `/api/cases/${encodeURIComponent(id)}`),
  putCase: (id, body) => request('PUT', `/api/cases/${encodeURIComponent(id)}`, { body }),
  putTrainingCertification: (minDPrime, window) => request('PUT', '/api/training/certification', { body: { min_d_prime: minDPrime, window } }),
};
