// @ts-check
// Secret Relay console: reads the relay's HTTP API (the same routes as the CLI) with the function key the page was
// opened with, and renders with DOM calls only (textContent, never HTML from data). The API never returns a secret
// value, so neither can this page. Plain browser JavaScript, no dependencies, checked by `npm run lint`
// (console/tsconfig.json).
'use strict';

(() => {
  /** @typedef {{ status: string, hint?: string, time: string, message?: string | null }} Delivery */
  /** @typedef {{ targetId: string, kind?: string, placement?: unknown, inSync?: boolean, state?: string, heldVersion?: string | null, status?: string | null, lastDelivery?: { at?: string } | string | number | null, hint?: string | null, drift?: string | null, reason?: string | null, message?: string | null, delivery?: Delivery }} TargetCell */
  /** @typedef {{ source: string, name: string, currentVersion?: string | null, sourceState?: string, targets: TargetCell[] }} SecretRow */
  /** @typedef {{ status: number, json: any }} ApiAnswer */

  const params = new URLSearchParams(location.search);
  const fragment = new URLSearchParams(location.hash.includes('?') ? location.hash.slice(location.hash.indexOf('?') + 1) : '');
  // Locally the printed URL carries the function key as `code` (the host checks it before serving this page).
  const key = params.get('code') ?? fragment.get('code') ?? '';
  // The API lives beside the console: /api/console → /api/…
  const apiBase = location.pathname.replace(/\/console\/?$/, '');
  const MAX_PAGES = 100;
  const MAX_ROWS = 500;

  /** @type {{ outOfSync: boolean, failed: boolean, target: string }} */
  const filters = { outOfSync: false, failed: false, target: '' };
  /** @type {SecretRow[] | null} */
  let fleet = null;

  const app = /** @type {HTMLElement} */ (document.getElementById('app'));
  const statusLine = /** @type {HTMLElement} */ (document.getElementById('status'));

  /**
   * @param {string} tag
   * @param {Record<string, string> | null} [attrs]
   * @param {...(Node | string | null | undefined | false)} children
   * @returns {HTMLElement}
   */
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs ?? {})) {
      if (name === 'class') node.className = value;
      else node.setAttribute(name, value);
    }
    for (const child of children) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === 'string' ? document.createTextNode(child) : child);
    }
    return node;
  }

  /**
   * @param {string} method
   * @param {string} path
   * @param {unknown} [body]
   * @returns {Promise<ApiAnswer>}
   */
  async function api(method, path, body) {
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json' };
    if (key) headers['x-functions-key'] = key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const response = await fetch(`${apiBase}${path}`, {
      method,
      headers,
      credentials: 'same-origin',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    let json = null;
    try {
      json = text ? JSON.parse(text) : null;
    } catch {
      json = null;
    }
    return { status: response.status, json };
  }

  /** @param {ApiAnswer} answer */
  function problem(answer) {
    if (answer.status === 401) return 'the API refused the key (401): open the console with the URL `npm start` printed, or with ?code=<function key>';
    const error = answer.json && typeof answer.json === 'object' ? answer.json : {};
    return `HTTP ${answer.status}${error.error ? ` ${error.error}` : ''}${error.message ? `: ${error.message}` : ''}`;
  }

  /** @param {string | null | undefined} version */
  function short(version) {
    return version ? String(version).slice(0, 8) : '—';
  }

  /** @param {{ at?: string } | string | number | null | undefined} value */
  function time(value) {
    const when = value && typeof value === 'object' ? value.at : value;
    if (when === null || when === undefined || when === '') return null;
    const date = typeof when === 'number' ? new Date(when < 1e12 ? when * 1000 : when) : new Date(when);
    if (Number.isNaN(date.getTime())) return null;
    const seconds = Math.round((Date.now() - date.getTime()) / 1000);
    const ago = seconds < 60 ? `${Math.max(seconds, 0)} s ago` : seconds < 3600 ? `${Math.round(seconds / 60)} min ago` : seconds < 86400 ? `${Math.round(seconds / 3600)} h ago` : `${Math.round(seconds / 86400)} d ago`;
    return el('time', { datetime: date.toISOString(), title: date.toISOString() }, ago);
  }

  /** @param {unknown} placement */
  function placementText(placement) {
    if (!placement) return '';
    if (typeof placement === 'string') return placement;
    const p = /** @type {Record<string, unknown>} */ (placement);
    if (typeof p['location'] === 'string') return p['location'];
    if (p['kind'] === 'kubernetes' || p['namespace']) return `${p['namespace'] ?? ''}/${p['secretName'] ?? p['name'] ?? ''}${p['key'] ? `#${p['key']}` : ''}`;
    return String(p['name'] ?? p['secretName'] ?? JSON.stringify(placement));
  }

  /**
   * The named state of one cell: in sync, failed (a Failed* status, or the target could not be read) or out of sync.
   * @param {TargetCell} cell
   */
  function cellState(cell) {
    if (cell.inSync) return 'in-sync';
    const status = namedStatus(cell) ?? '';
    if (status.startsWith('Failed') || cell.state === 'check-failed' || cell.state === 'error') return 'failed';
    return 'out-of-sync';
  }

  /**
   * The named status of a cell: the API's delivery status, else that of the latest delivery in the audit trail (a
   * failure is shown only while the cell is not in sync), else the drift kind or state.
   * @param {TargetCell} cell
   */
  function namedStatus(cell) {
    if (cell.status) return cell.status;
    const last = cell.delivery?.status;
    if (last && (!cell.inSync || !last.startsWith('Failed'))) return last;
    if (cell.inSync) return null;
    return cell.drift ?? (cell.state && cell.state !== 'present' ? cell.state : null);
  }

  /**
   * What to do about a cell that is not in sync: the failed delivery's hint, then the API's hint if it says more.
   * @param {TargetCell} cell
   */
  function hints(cell) {
    if (cell.inSync) return [];
    const named = namedStatus(cell) ?? '';
    const last = cell.delivery;
    // A failed write says what to do; the drift kind's hint ("reconciliation relays it") would only mislead then.
    if (named.startsWith('Failed') && last?.hint && last.status === named) return [last.hint];
    return cell.hint ? [cell.hint] : [];
  }

  /** @param {TargetCell} cell */
  function cellLabel(cell) {
    const state = cellState(cell);
    return state === 'in-sync' ? 'in sync' : state === 'failed' ? 'failed' : 'out of sync';
  }

  /**
   * @param {SecretRow} secret
   * @param {TargetCell | undefined} cell
   */
  function matrixCell(secret, cell) {
    if (!cell) return el('td', { class: 'cell none', 'data-target': '' }, 'not routed');
    const state = cellState(cell);
    const named = namedStatus(cell);
    const reason = cell.reason && !cell.inSync ? ` (${cell.reason})` : '';
    const versions = cell.heldVersion
      ? cell.heldVersion === secret.currentVersion
        ? `holds ${short(cell.heldVersion)} (current)`
        : `holds ${short(cell.heldVersion)}, current ${short(secret.currentVersion)}`
      : `${cell.state === 'check-failed' || cell.state === 'error' ? 'held version unknown' : 'holds no copy'}, current ${short(secret.currentVersion)}`;
    const delivered = time(cell.lastDelivery);
    return el(
      'td',
      { class: `cell ${state}`, 'data-target': cell.targetId, 'data-state': state, title: placementText(cell.placement) },
      el('span', { class: 'badge' }, cellLabel(cell)),
      named ? el('span', { class: 'status' }, `${named}${reason}`) : null,
      el('div', { class: 'versions' }, versions),
      el('div', { class: 'when' }, delivered ? 'delivered ' : 'no delivery recorded', delivered),
      cell.delivery && cell.delivery.status.startsWith('Failed') && !cell.inSync ? el('div', { class: 'when' }, 'last attempt ', time(cell.delivery.time)) : null,
      ...hints(cell).map((hint) => el('div', { class: 'hint' }, hint)),
    );
  }

  /** @returns {Promise<{ secrets: SecretRow[] } | { error: string }>} */
  async function loadFleet() {
    /** @type {SecretRow[]} */
    const secrets = [];
    let token = '';
    for (let page = 0; page < MAX_PAGES; page++) {
      const answer = await api('GET', `/secrets${token ? `?continuationToken=${encodeURIComponent(token)}` : ''}`);
      if (answer.status === 404 && page === 0) return { error: 'the fleet listing (GET /api/secrets) is not available on this relay' };
      if (answer.status !== 200 || !answer.json || !Array.isArray(answer.json.secrets)) return { error: `cannot list secrets: ${problem(answer)}` };
      secrets.push(...answer.json.secrets);
      token = answer.json.continuationToken ?? '';
      if (!token) break;
    }
    // The latest delivery of each secret × target from the audit trail, for the named status of the last attempt
    // (the fleet listing reads the targets' marks, which say what is held, not why a write failed).
    const audit = await api('GET', '/audit?action=deliver&limit=1000');
    if (audit.status === 200 && audit.json && Array.isArray(audit.json.records)) {
      /** @type {Map<string, Delivery>} */
      const latest = new Map();
      for (const r of audit.json.records) {
        const id = `${r.source?.sourceId}/${String(r.source?.name ?? '').toLowerCase()}/${r.target?.id}`;
        if (!latest.has(id)) latest.set(id, { status: String(r.status), hint: r.hint, time: String(r.time), message: r.error?.message ?? null });
      }
      for (const secret of secrets) {
        for (const cell of secret.targets ?? []) {
          const found = latest.get(`${secret.source}/${secret.name.toLowerCase()}/${cell.targetId}`);
          if (found) cell.delivery = found;
        }
      }
    }
    return { secrets };
  }

  /** @param {SecretRow[]} secrets */
  function targetIds(secrets) {
    const ids = new Set();
    for (const secret of secrets) for (const cell of secret.targets ?? []) ids.add(cell.targetId);
    return [...ids].sort();
  }

  /** @param {SecretRow} secret */
  function matches(secret) {
    const cells = (secret.targets ?? []).filter((cell) => !filters.target || cell.targetId === filters.target);
    if (filters.target && cells.length === 0) return false;
    if (filters.failed && !cells.some((cell) => cellState(cell) === 'failed')) return false;
    if (filters.outOfSync && !cells.some((cell) => cellState(cell) !== 'in-sync')) return false;
    return true;
  }

  /** @param {SecretRow[]} secrets */
  function matrixSection(secrets) {
    const section = el('section', { id: 'matrix' }, el('h2', null, 'Secrets × targets'));
    const ids = targetIds(secrets);
    const all = secrets.flatMap((s) => s.targets ?? []);
    section.append(
      el(
        'div',
        { class: 'counts' },
        el('span', null, el('b', null, String(secrets.length)), ' secrets'),
        el('span', null, el('b', null, String(all.filter((c) => cellState(c) === 'in-sync').length)), ' in sync'),
        el('span', null, el('b', null, String(all.filter((c) => cellState(c) === 'out-of-sync').length)), ' out of sync'),
        el('span', null, el('b', null, String(all.filter((c) => cellState(c) === 'failed').length)), ' failed'),
      ),
    );
    const outOfSync = /** @type {HTMLInputElement} */ (el('input', { type: 'checkbox', id: 'filter-out-of-sync' }));
    outOfSync.checked = filters.outOfSync;
    const failed = /** @type {HTMLInputElement} */ (el('input', { type: 'checkbox', id: 'filter-failed' }));
    failed.checked = filters.failed;
    const target = /** @type {HTMLSelectElement} */ (el('select', { id: 'filter-target' }, el('option', { value: '' }, 'all targets'), ...ids.map((id) => el('option', { value: id }, id))));
    target.value = filters.target;
    const rerender = () => {
      filters.outOfSync = outOfSync.checked;
      filters.failed = failed.checked;
      filters.target = target.value;
      renderTable();
    };
    outOfSync.addEventListener('change', rerender);
    failed.addEventListener('change', rerender);
    target.addEventListener('change', rerender);
    section.append(
      el(
        'div',
        { class: 'filters' },
        el('label', null, outOfSync, 'out of sync'),
        el('label', null, failed, 'failed'),
        el('label', null, 'target ', target),
        filters.target ? el('a', { href: `#/target/${encodeURIComponent(filters.target)}` }, `about ${filters.target}`) : null,
      ),
    );
    const holder = el('div', { class: 'scroll' });
    section.append(holder);
    function renderTable() {
      const shown = ids.filter((id) => !filters.target || id === filters.target);
      const rows = secrets.filter(matches);
      const table = el(
        'table',
        { class: 'matrix' },
        el('thead', null, el('tr', null, el('th', null, 'secret'), ...shown.map((id) => el('th', null, el('a', { href: `#/target/${encodeURIComponent(id)}` }, id))))),
      );
      const body = el('tbody');
      for (const secret of rows.slice(0, MAX_ROWS)) {
        const byTarget = new Map((secret.targets ?? []).map((cell) => [cell.targetId, cell]));
        body.append(
          el(
            'tr',
            { 'data-secret': `${secret.source}/${secret.name}` },
            el(
              'th',
              null,
              el('a', { href: `#/secret/${encodeURIComponent(secret.source)}/${encodeURIComponent(secret.name)}` }, secret.name),
              el('div', { class: 'versions' }, `${secret.source} · current ${short(secret.currentVersion)}`),
            ),
            ...shown.map((id) => matrixCell(secret, byTarget.get(id))),
          ),
        );
      }
      table.append(body);
      const note = rows.length === 0 ? el('p', { class: 'muted' }, 'No secret matches the filters.') : rows.length > MAX_ROWS ? el('p', { class: 'muted' }, `Showing ${MAX_ROWS} of ${rows.length}; narrow the filters.`) : null;
      holder.replaceChildren(table, ...(note ? [note] : []));
    }
    renderTable();
    return section;
  }

  /**
   * A failed repair's own hint (what to do about the refused write), over the drift kind's.
   * @param {any} finding
   * @param {any[] | undefined} repairs
   */
  function repairHint(finding, repairs) {
    if (finding.outcome !== 'repair-failed' || !Array.isArray(repairs)) return undefined;
    for (const repair of repairs) {
      if (repair.source !== finding.source || repair.name !== finding.name) continue;
      const outcome = (repair.outcomes ?? []).find((/** @type {any} */ o) => o.targetId === finding.targetId && o.hint);
      if (outcome) return String(outcome.hint);
    }
    return undefined;
  }

  /** @param {any} finding */
  function findingName(finding) {
    return `${finding.source ?? ''}/${finding.name ?? ''}`;
  }

  async function driftSection() {
    const section = el('section', { id: 'drift' }, el('h2', null, 'Latest drift report'));
    const answer = await api('GET', '/rotations/reconcile');
    if (answer.status === 404) {
      section.append(el('p', { class: 'muted' }, 'No reconciliation has run yet.'));
      return section;
    }
    if (answer.status !== 200 || !answer.json) {
      section.append(el('p', { class: 'error' }, `Cannot read the drift report: ${problem(answer)}`));
      return section;
    }
    const report = answer.json;
    // `reconcile` is the report of a completed run (findings with what became of each, repairs).
    const output = report.reconcile ?? {};
    const findings = /** @type {any[] | undefined} */ (output.findings);
    const repairs = /** @type {any[] | undefined} */ (output.repairs);
    // Without the lists, the run's own progress still counts them.
    const progress = report.progress ?? {};
    const count = (/** @type {unknown} */ list, /** @type {unknown} */ fallback) => (Array.isArray(list) ? String(list.length) : typeof fallback === 'number' ? String(fallback) : '—');
    section.append(
      el(
        'dl',
        { class: 'kv' },
        el('dt', null, 'run'),
        el('dd', null, String(report.runtimeStatus ?? '')),
        el('dt', null, report.runtimeStatus === 'Completed' ? 'finished' : 'updated'),
        el('dd', null, time(report.lastUpdatedTime) ?? '—'),
        output.checkedSecrets !== undefined ? el('dt', null, 'checked') : null,
        output.checkedSecrets !== undefined ? el('dd', null, `${output.checkedSecrets} secrets, ${output.checkedTargets ?? '—'} placements${output.checkFailed ? `, ${output.checkFailed} could not be checked` : ''}`) : null,
        el('dt', null, 'findings'),
        el('dd', null, count(findings, progress.drift)),
        el('dt', null, 'repairs'),
        el('dd', null, count(repairs, progress.repairs)),
      ),
    );
    if (Array.isArray(findings) && findings.length > 0) {
      section.append(
        el(
          'table',
          null,
          el('thead', null, el('tr', null, el('th', null, 'secret'), el('th', null, 'target'), el('th', null, 'drift'), el('th', null, 'outcome'), el('th', null, 'hint'))),
          el(
            'tbody',
            null,
            ...findings.slice(0, MAX_ROWS).map((f) =>
              el(
                'tr',
                null,
                el('td', null, findingName(f)),
                el('td', null, String(f.targetId ?? f.target ?? '')),
                el('td', null, el('span', { class: 'status' }, `${f.drift ?? ''}${f.reason ? `: ${f.reason}` : ''}`)),
                el('td', null, el('span', { class: 'status' }, `${f.outcome ?? ''}${f.repairStatus ? ` (${f.repairStatus})` : ''}`)),
                el('td', { class: 'hint' }, String(repairHint(f, repairs) ?? f.hint ?? '')),
              ),
            ),
          ),
        ),
      );
    }
    return section;
  }

  async function planSection() {
    const section = el('section', { id: 'plan' }, el('h2', null, 'Plan'));
    const answer = await api('POST', '/plan', {});
    if (answer.status === 404 || answer.status === 405) {
      section.append(el('p', { class: 'muted' }, 'plan not available on this relay'));
      return section;
    }
    if (answer.status !== 200 || !answer.json) {
      section.append(el('p', { class: 'error' }, `Cannot compute the plan: ${problem(answer)}`));
      return section;
    }
    const items = /** @type {any[]} */ (answer.json.items ?? []);
    const counts = answer.json.counts ?? {};
    section.append(el('div', { class: 'counts' }, ...Object.entries(counts).map(([name, n]) => el('span', null, el('b', null, String(n)), ` ${name}`))));
    const changes = items.filter((item) => item.action !== 'none' && item.action !== 'noop' && item.action !== 'up-to-date');
    if (changes.length === 0) {
      section.append(el('p', { class: 'muted' }, 'Nothing to do: every target holds the current version.'));
      return section;
    }
    section.append(
      el(
        'table',
        null,
        el('thead', null, el('tr', null, el('th', null, 'secret'), el('th', null, 'version'), el('th', null, 'target'), el('th', null, 'placement'), el('th', null, 'action'), el('th', null, 'reason'))),
        el(
          'tbody',
          null,
          ...changes.slice(0, MAX_ROWS).map((item) =>
            el(
              'tr',
              null,
              el('td', null, `${item.source}/${item.name}`),
              el('td', { class: 'mono' }, short(item.version)),
              el('td', null, String(item.targetId ?? '')),
              el('td', { class: 'mono' }, placementText(item.placement)),
              el('td', null, el('span', { class: 'status' }, String(item.action ?? ''))),
              el('td', null, String(item.reason ?? '')),
            ),
          ),
        ),
      ),
    );
    return section;
  }

  async function renderFleet() {
    statusLine.textContent = 'reading the fleet…';
    const loaded = await loadFleet();
    const sections = [];
    if ('error' in loaded) {
      fleet = null;
      sections.push(el('section', { id: 'matrix' }, el('h2', null, 'Secrets × targets'), el('p', { class: 'error' }, loaded.error)));
    } else {
      fleet = loaded.secrets;
      sections.push(matrixSection(loaded.secrets));
    }
    const [drift, plan] = await Promise.all([driftSection(), planSection()]);
    app.replaceChildren(...sections, drift, plan);
    statusLine.textContent = `read ${new Date().toLocaleTimeString()}`;
  }

  /**
   * @param {string} source
   * @param {string} name
   */
  async function renderSecret(source, name) {
    statusLine.textContent = `reading ${source}/${name}…`;
    const path = `${encodeURIComponent(source)}/${encodeURIComponent(name)}`;
    const [state, audit] = await Promise.all([
      api('GET', `/secrets/${path}`),
      api('GET', `/audit?source=${encodeURIComponent(source)}&secret=${encodeURIComponent(name)}&limit=200`),
    ]);
    const head = el('section', { id: 'secret' }, el('h2', null, `${source}/${name}`));
    if (state.status === 200 && state.json) {
      const s = state.json;
      head.append(
        el(
          'dl',
          { class: 'kv' },
          el('dt', null, 'source'),
          el('dd', null, `${s.sourceState ?? ''}${s.sourceHint ? ` — ${s.sourceHint}` : ''}`),
          el('dt', null, 'current version'),
          el('dd', { class: 'mono' }, String(s.currentVersion ?? '—')),
          el('dt', null, 'expires'),
          el('dd', null, s.expiresOn ? String(s.expiresOn) : '—'),
        ),
        el('h3', null, 'Targets (read live)'),
        el(
          'table',
          { class: 'matrix' },
          el('thead', null, el('tr', null, el('th', null, 'target'), el('th', null, 'placement'), el('th', null, 'state'))),
          el(
            'tbody',
            null,
            ...(s.targets ?? []).map((/** @type {TargetCell} */ t) => {
              const fromFleet = fleet?.find((row) => row.source === source && row.name === name)?.targets?.find((c) => c.targetId === t.targetId);
              const cell = { ...t, ...(fromFleet ? { status: fromFleet.status, lastDelivery: fromFleet.lastDelivery, delivery: fromFleet.delivery } : {}) };
              return el('tr', { 'data-target': t.targetId }, el('th', null, t.targetId), el('td', { class: 'mono' }, placementText(t.placement)), matrixCell(s, cell));
            }),
          ),
        ),
      );
    } else {
      head.append(el('p', { class: 'error' }, `Cannot read the secret's state: ${problem(state)}`));
    }
    const timeline = el('section', { id: 'timeline' }, el('h2', null, 'Audit timeline'));
    if (audit.status === 200 && audit.json) {
      const records = /** @type {any[]} */ (audit.json.records ?? []);
      timeline.append(el('p', { class: 'muted' }, `${records.length} record(s) since ${new Date(audit.json.from).toISOString().slice(0, 10)}, newest first${audit.json.truncated ? ' (more exist)' : ''}.`));
      if (records.length > 0) {
        timeline.append(
          el(
            'table',
            null,
            el('thead', null, el('tr', null, el('th', null, 'time'), el('th', null, 'action'), el('th', null, 'status'), el('th', null, 'target'), el('th', null, 'version'), el('th', null, 'actor'), el('th', null, 'detail'))),
            el(
              'tbody',
              null,
              ...records.map((r) =>
                el(
                  'tr',
                  { class: String(r.status).startsWith('Failed') || r.status === 'CheckFailed' ? 'failed' : '' },
                  el('td', null, time(r.time) ?? String(r.time)),
                  el('td', null, String(r.action)),
                  el('td', null, el('span', { class: 'status' }, `${r.status}${r.reason ? `: ${r.reason}` : ''}`)),
                  el('td', null, r.target ? `${r.target.id}${r.target.location ? ` (${r.target.location})` : ''}` : '—'),
                  el('td', { class: 'mono' }, short(r.source?.version)),
                  el('td', null, r.actor ? `${r.actor.kind}: ${r.actor.id}` : ''),
                  el('td', { class: 'hint' }, r.error?.message ? String(r.error.message) : ''),
                ),
              ),
            ),
          ),
        );
      }
    } else {
      timeline.append(el('p', { class: 'error' }, `Cannot read the audit trail: ${problem(audit)}`));
    }
    app.replaceChildren(el('p', null, el('a', { href: '#/' }, '← fleet')), head, timeline);
    statusLine.textContent = `read ${new Date().toLocaleTimeString()}`;
  }

  /** @param {string} id */
  async function renderTarget(id) {
    statusLine.textContent = `reading target ${id}…`;
    const answer = await api('GET', `/targets/${encodeURIComponent(id)}`);
    const section = el('section', { id: 'target' }, el('h2', null, `Target ${id}`));
    if (answer.status === 200 && answer.json && typeof answer.json === 'object') {
      const t = answer.json;
      const counts = t.counts ?? {};
      section.append(
        el(
          'dl',
          { class: 'kv' },
          el('dt', null, 'kind'),
          el('dd', null, String(t.target?.kind ?? '')),
          el('dt', null, 'placements'),
          el('dd', null, `${counts.placements ?? '—'} (${counts.inSync ?? '—'} in sync, ${counts.outOfSync ?? '—'} out of sync)`),
          t.failure ? el('dt', null, 'cannot be read') : null,
          t.failure ? el('dd', { class: 'error' }, `${t.failure.reason}: ${t.failure.message}`) : null,
        ),
      );
      const rows = /** @type {any[]} */ (t.placements ?? []);
      if (Array.isArray(rows) && rows.length > 0) {
        section.append(
          el('h3', null, 'Placements'),
          el(
            'table',
            { class: 'matrix' },
            el('thead', null, el('tr', null, el('th', null, 'secret'), el('th', null, 'placement'), el('th', null, 'state'))),
            el(
              'tbody',
              null,
              ...rows.slice(0, MAX_ROWS).map((row) =>
                el(
                  'tr',
                  null,
                  el('th', null, el('a', { href: `#/secret/${encodeURIComponent(row.source)}/${encodeURIComponent(row.name)}` }, `${row.source}/${row.name}`)),
                  el('td', { class: 'mono' }, placementText(row.placement)),
                  matrixCell(row, { targetId: id, ...row }),
                ),
              ),
            ),
          ),
        );
      }
    } else {
      section.append(el('p', { class: answer.status === 404 ? 'muted' : 'error' }, answer.status === 404 ? `No target "${id}" (or the route is not available).` : problem(answer)));
    }
    app.replaceChildren(el('p', null, el('a', { href: '#/' }, '← fleet')), section);
    statusLine.textContent = `read ${new Date().toLocaleTimeString()}`;
  }

  async function route() {
    const hash = location.hash.replace(/^#/, '').split('?')[0] ?? '';
    const parts = hash.split('/').filter(Boolean).map(decodeURIComponent);
    try {
      if (parts[0] === 'secret' && parts.length === 3) await renderSecret(/** @type {string} */ (parts[1]), /** @type {string} */ (parts[2]));
      else if (parts[0] === 'target' && parts.length === 2) await renderTarget(/** @type {string} */ (parts[1]));
      else await renderFleet();
      document.body.dataset['ready'] = 'true';
    } catch (error) {
      app.replaceChildren(el('section', null, el('p', { class: 'error' }, `The console could not reach the API: ${error instanceof Error ? error.message : String(error)}`)));
      statusLine.textContent = 'failed';
      document.body.dataset['ready'] = 'error';
    }
  }

  window.addEventListener('hashchange', () => void route());
  document.getElementById('refresh')?.addEventListener('click', () => void route());
  void route();
})();
