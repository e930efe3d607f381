// The issuer's self-service page. Plain JavaScript, no dependencies: it
// talks only to the issuer that served it. The token lives in memory and in
// this tab's sessionStorage, never in a URL, a cookie or persistent storage.
'use strict';

(function () {
  const MAX_DOCUMENT = 64 * 1024; // the API's limit for an LRF, a receipt or a usage report
  const SVG = 'http://www.w3.org/2000/svg';
  const $ = (id) => document.getElementById(id);

  // ---- the tab's memory -------------------------------------------------

  const KEY = 'tenure.access';
  function loadAccess() {
    try {
      const v = JSON.parse(sessionStorage.getItem(KEY) || '{}');
      if (typeof v.contract === 'string') $('contract').value = v.contract;
      if (typeof v.token === 'string') $('token').value = v.token;
    } catch (e) { /* storage off or unreadable: start empty */ }
  }
  function saveAccess() {
    try {
      sessionStorage.setItem(KEY, JSON.stringify({ contract: $('contract').value, token: $('token').value }));
    } catch (e) { /* storage off: memory is enough */ }
  }

  // ---- refusals, shown next to the field they concern --------------------

  const FIELDS = ['contract', 'token', 'lrf', 'effective', 'receipt', 'report'];

  function clearErrors(fields) {
    for (const f of fields.concat('general')) {
      const p = $(f + '-error');
      p.hidden = true;
      p.textContent = '';
      const input = $(f);
      if (input) input.removeAttribute('aria-invalid');
    }
  }

  // ADVICE is, by problem type (and the document refused, after a slash,
  // where that changes it), what the customer can do about a refusal whose
  // detail speaks to the vendor's staff.
  const ADVICE = new Map([
    ['clock-ahead', 'The appliance\'s clock is ahead of the issuer\'s. Ask the vendor for a clock reset: send them this same .lrf file, ' +
      'install the file they send back on the appliance with tenure install, then make a new request with tenure request.'],
    ['clock-ahead/report', 'The appliance\'s clock is ahead of the issuer\'s. Ask the vendor for a clock reset: make a license request on the appliance ' +
      'with tenure request and send it to them, install the file they send back with tenure install, then make a new report with tenure report.'],
  ]);

  function adviceFor(problem, docField) {
    const slug = slugOf(problem);
    return ADVICE.get(slug + '/' + docField) || ADVICE.get(slug);
  }

  function showError(field, title, detail, advice) {
    const p = $(FIELDS.includes(field) ? field + '-error' : 'general-error');
    p.textContent = '';
    const t = document.createElement('strong');
    t.className = 'problem-title';
    t.textContent = title;
    p.append(t);
    if (detail) {
      const d = document.createElement('span');
      d.className = 'problem-detail';
      d.textContent = detail;
      p.append(' ', d);
    }
    if (advice) {
      const a = document.createElement('span');
      a.className = 'problem-advice';
      a.textContent = advice;
      p.append(' ', a);
    }
    p.hidden = false;
    const input = $(field);
    if (input) input.setAttribute('aria-invalid', 'true');
  }

  // slugOf is the last part of a problem's type.
  function slugOf(problem) {
    return String(problem.type || '').split('/').pop();
  }

  // fieldFor picks the field a problem concerns: the token for 401, the
  // contract id for a token of another contract or an unknown contract, the
  // effective date when the detail names it, else the document sent.
  function fieldFor(problem, docField) {
    const slug = slugOf(problem);
    if (problem.status === 401) return 'token';
    if (problem.status === 403 || (slug === 'not-found' && /^no contract /.test(problem.detail || ''))) return 'contract';
    if (docField === 'lrf' && /\beffective\b/i.test(problem.detail || '')) return 'effective';
    if (docField === 'lrf' && /is not a contract id/.test(problem.detail || '')) return 'contract';
    return docField || 'general';
  }

  class Problem extends Error {
    constructor(p) {
      super(p.detail || p.title);
      this.problem = p;
    }
  }

  // api sends one request and returns the parsed JSON and the status; a
  // refusal throws a Problem with the answer's title and detail.
  async function api(method, path, token, body) {
    const init = { method, headers: { Accept: 'application/json, application/problem+json' }, cache: 'no-store', credentials: 'omit', referrerPolicy: 'no-referrer' };
    if (token) init.headers.Authorization = 'Bearer ' + token;
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new Problem({ status: 0, title: 'The issuer did not answer', detail: 'Check the connection to this server and try again (' + e.message + ').' });
    }
    const text = await resp.text();
    let v = null;
    try { v = JSON.parse(text); } catch (e) { /* not JSON: a proxy's page */ }
    if (!resp.ok) {
      if (v && typeof v === 'object' && v.title) throw new Problem(v);
      throw new Problem({ status: resp.status, title: resp.status + ' ' + resp.statusText, detail: 'The server answered without a problem description.' });
    }
    if (v === null) throw new Problem({ status: resp.status, title: 'Unexpected answer', detail: 'The issuer answered with something that is not JSON.' });
    return { status: resp.status, body: v };
  }

  // ---- reading the customer's input --------------------------------------

  function access() {
    const contract = $('contract').value.trim();
    const token = $('token').value.trim();
    if (contract === '') showError('contract', 'Enter the contract id', 'It is on your order, like IC-1042.');
    if (token === '') showError('token', 'Enter the token', 'It came with the contract.');
    return contract && token ? { contract, token } : null;
  }

  async function readDocument(field, what) {
    const file = $(field).files[0];
    if (!file) {
      showError(field, 'Choose the ' + what, 'Drop the file on the box or click it to choose one.');
      return null;
    }
    if (file.size > MAX_DOCUMENT) {
      showError(field, 'The file is too large', file.name + ' is ' + file.size + ' bytes; a ' + what + ' is at most 64 KiB. Is it the file the appliance printed?');
      return null;
    }
    return file.text();
  }

  function busy(button, on) {
    button.disabled = on;
    button.setAttribute('aria-busy', on ? 'true' : 'false');
  }

  // ---- dates -------------------------------------------------------------

  function day(s) {
    if (!s) return '';
    return s.endsWith('T00:00:00Z') ? s.slice(0, 10) : s.replace('T', ' ').replace('Z', ' UTC');
  }

  // ---- step 1: the contract ----------------------------------------------

  let shown = null; // the contract on screen, to refresh after changes

  async function openContract(ev) {
    if (ev) ev.preventDefault();
    clearErrors(['contract', 'token']);
    const a = access();
    if (!a) return;
    const button = $('open');
    busy(button, true);
    try {
      const { body } = await api('GET', 'v1/contracts/' + encodeURIComponent(a.contract), a.token);
      renderContract(body);
      shown = a;
      loadLedger(a);
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      showError(fieldFor(e.problem, 'contract'), e.problem.title, e.problem.detail);
    } finally {
      busy(button, false);
    }
  }

  async function refreshContract() {
    if (!shown) return;
    try {
      const { body } = await api('GET', 'v1/contracts/' + encodeURIComponent(shown.contract), shown.token);
      renderContract(body);
      loadLedger(shown);
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      showError(fieldFor(e.problem, 'contract'), e.problem.title, e.problem.detail);
    }
  }

  function cell(tr, text, cls) {
    const td = document.createElement('td');
    if (cls) td.className = cls;
    td.textContent = text;
    tr.append(td);
    return td;
  }

  function standing(l, now) {
    if (l.released) return 'released';
    if (l.superseded_by) return 'superseded';
    if (Date.parse(l.until) <= now) return 'expired';
    if (Date.parse(l.from) > now) return 'pending';
    return 'active';
  }

  // renderFeatures shows a contract's features as chips, in the product's
  // own names: with the product catalog (every loaded version of it), the
  // features the contract does not include are shown too, set apart.
  function renderFeatures(c, products) {
    const feats = $('c-features');
    feats.textContent = '';
    const catalog = new Set();
    for (const p of products || []) {
      if (p.id === c.product) for (const f of p.features || []) catalog.add(f);
    }
    const included = new Set(c.features || []);
    const all = [...new Set([...included, ...catalog])].sort();
    for (const f of all) {
      const li = document.createElement('li');
      li.textContent = f;
      if (!included.has(f) && included.size) {
        li.className = 'off';
        li.title = 'in the product ' + c.product + ', not in this contract';
      } else {
        li.title = 'in this contract';
      }
      feats.append(li);
    }
    if (!included.size) {
      const li = document.createElement('li');
      li.className = 'none';
      li.textContent = 'the tier\'s features';
      feats.prepend(li);
    }
  }

  function renderContract(v) {
    const c = v.contract;
    $('c-id').textContent = c.id;
    $('c-status').textContent = c.status;
    $('c-status').className = 'badge status-' + c.status;
    $('c-customer').textContent = c.customer;
    $('c-product').textContent = c.product;
    $('c-tier').textContent = c.tier;
    $('c-kind').textContent = c.kind;
    $('c-term').textContent = c.term_months + ' months' + (c.extend_months ? ' (+' + c.extend_months + ' extended)' : '');
    $('c-ordered').textContent = day(c.ordered);
    $('c-revision').textContent = c.revision + ' (' + c.change + ', ' + day(c.updated) + ')';

    const used = c.appliances_used || 0;
    const free = Math.max(0, c.appliances - used);
    $('c-meter').max = Math.max(1, c.appliances);
    $('c-meter').value = used;
    $('c-seats').textContent = used + ' of ' + c.appliances + ' used, ' + free + ' free';

    renderFeatures(c, null);
    // The product's own catalog, from the public list of the products this
    // issuer loads: the contract's features, and the product's others.
    api('GET', 'v1/products').then(({ body }) => renderFeatures(c, body.products || []), () => {});

    const limits = $('c-limits').tBodies[0];
    limits.textContent = '';
    for (const k of Object.keys(c.limits || {}).sort()) {
      const tr = document.createElement('tr');
      cell(tr, k);
      cell(tr, String(c.limits[k]), 'num');
      limits.append(tr);
    }
    if (!limits.rows.length) emptyRow(limits, 2, 'The tier\'s limits');

    const apps = $('c-appliances').tBodies[0];
    apps.textContent = '';
    for (const a of v.appliances || []) {
      const tr = document.createElement('tr');
      cell(tr, a.id, 'mono');
      cell(tr, (a.platform || '').slice(0, 12), 'mono').title = a.platform || '';
      cell(tr, day(a.bound));
      cell(tr, a.released ? 'released ' + day(a.released) : 'bound', a.released ? 'muted' : '');
      usageCell(tr, a.usage);
      apps.append(tr);
    }
    if (!apps.rows.length) emptyRow(apps, 5, 'No appliance is bound yet.');
    drawUsage($('c-usage'), v);

    const now = Date.now();
    const lics = $('c-licenses').tBodies[0];
    lics.textContent = '';
    const sorted = (v.licenses || []).slice().sort((x, y) => x.from.localeCompare(y.from) || x.issued.localeCompare(y.issued));
    for (const l of sorted) {
      const tr = document.createElement('tr');
      tr.dataset.license = l.id;
      cell(tr, l.id, 'mono');
      cell(tr, l.reason);
      cell(tr, l.appliance, 'mono');
      cell(tr, day(l.from));
      cell(tr, day(l.until));
      const st = standing(l, now);
      cell(tr, st, 'standing-' + st);
      lics.append(tr);
    }
    if (!lics.rows.length) emptyRow(lics, 6, 'No license is issued yet.');
    drawTimeline($('c-timeline'), sorted, now);

    $('contract-view').hidden = false;
  }

  // ---- usage: the appliances' reports and the contract's peaks -----------

  // usageCell shows an appliance's latest report: its period and the days
  // each feature was checked.
  function usageCell(tr, u) {
    if (!u) {
      cell(tr, 'none yet', 'muted');
      return;
    }
    const feats = Object.keys(u.features || {}).sort().map((f) => f + ' ' + u.features[f] + ' d');
    const td = cell(tr, day(u.from) + ' → ' + day(u.until));
    td.className = 'usage-period';
    if (feats.length) {
      const small = document.createElement('span');
      small.className = 'usage-features';
      small.textContent = feats.join(', ');
      td.append(small);
    }
    td.title = 'report ' + u.report;
  }

  const peakOf = (p) => Math.max(p.allowed || 0, p.denied || 0);

  // drawUsage draws, per limit, a small chart: a bar for the contract's
  // peak over every report and one for each appliance's latest report on
  // this page, against a line at the limit; a bar over the line is red.
  // The limit is the one the peak was reached under (the appliance's, with
  // its addons), else the contract's own.
  function drawUsage(box, v) {
    box.textContent = '';
    const c = v.contract, peaks = v.peaks || {};
    const reporting = (v.appliances || []).filter((a) => a.usage);
    const names = new Set(Object.keys(peaks));
    for (const a of reporting) for (const n of Object.keys(a.usage.limits || {})) names.add(n);
    if (!names.size) {
      const p = document.createElement('p');
      p.className = 'hint';
      p.textContent = reporting.length ? 'The reports show no limit checked.' : 'No usage report yet.';
      box.append(p);
      return;
    }
    for (const name of [...names].sort()) {
      const pk = peaks[name];
      const limit = pk ? pk.limit : ((c.limits || {})[name] || 0);
      const rows = [];
      if (pk) rows.push({ label: 'peak, every report', value: pk.peak, peak: true,
        title: 'peak ' + pk.peak + ' by ' + pk.appliance + ', in the report until ' + day(pk.at) + '; its limit then ' + pk.limit });
      for (const a of reporting) {
        const u = a.usage.limits && a.usage.limits[name];
        if (!u) continue;
        rows.push({ label: a.id, value: peakOf(u),
          title: a.id + ', ' + day(a.usage.from) + ' → ' + day(a.usage.until) + ': allowed up to ' + u.allowed + ', denied up to ' + u.denied });
      }
      box.append(usageChart(name, limit, pk, rows));
    }
  }

  function usageChart(name, limit, pk, rows) {
    const fig = document.createElement('figure');
    fig.className = 'usage-chart';
    fig.dataset.limit = name;
    const over = pk && pk.peak > pk.limit;
    if (over) fig.classList.add('over');
    const cap = document.createElement('figcaption');
    const n = document.createElement('strong');
    n.textContent = name;
    cap.append(n, ' ');
    const st = document.createElement('span');
    st.className = over ? 'standing-over' : 'standing-within';
    st.textContent = pk ? ('peak ' + pk.peak + ' of ' + pk.limit + (over ? ', over by ' + (pk.peak - pk.limit) : ', within')) : 'no peak kept';
    cap.append(st);
    fig.append(cap);

    const W = 860, LABEL = 190, ROW = 22, TOP = 18, PAD = 60;
    const H = TOP + ROW * rows.length + 4;
    const top = Math.max(1, limit, ...rows.map((r) => r.value)) * 1.05;
    const x = (val) => LABEL + (W - LABEL - PAD) * val / top;
    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', class: 'usage-svg' });
    svg.append(el('title', {}, name + ': peaks against the limit ' + limit));
    rows.forEach((r, i) => {
      const y = TOP + i * ROW;
      svg.append(el('text', { x: 0, y: y + ROW / 2 + 4, class: 'row-label' }, r.label));
      const bar = el('rect', { x: LABEL, y: y + 3, width: Math.max(2, x(r.value) - LABEL), height: ROW - 6, rx: 2,
        class: 'bar ' + (r.value > limit ? 'over' : 'within') + (r.peak ? ' peak' : ''), 'data-value': r.value });
      bar.append(el('title', {}, r.title));
      svg.append(bar);
      svg.append(el('text', { x: x(r.value) + 4, y: y + ROW / 2 + 4, class: 'value-label' }, String(r.value)));
    });
    const lx = x(limit);
    svg.append(el('line', { x1: lx, x2: lx, y1: TOP - 4, y2: H, class: 'limit', 'data-limit': limit }));
    svg.append(el('text', { x: lx + 3, y: TOP - 6, class: 'limit-label' }, 'limit ' + limit));
    fig.append(svg);
    return fig;
  }

  // ---- the contract's ledger ---------------------------------------------

  // The API lists the ledger oldest first, a page at a time (?after= the
  // previous page's next); the page shows it newest first. loadLedger
  // follows the cursors to the last page, keeping only where each page
  // starts, and shows that one; "Show older entries" goes back a page at a
  // time. A newer load (after an activation or a release) replaces an older
  // one still under way.
  const LEDGER_PAGE = 100;
  const LEDGER_WALK = 10000; // pages followed at most, a million entries
  let ledger = { gen: 0, access: null, starts: [], shown: 0 };

  async function ledgerPage(a, after) {
    let path = 'v1/contracts/' + encodeURIComponent(a.contract) + '/ledger?limit=' + LEDGER_PAGE;
    if (after) path += '&after=' + encodeURIComponent(after);
    const { body } = await api('GET', path, a.token);
    return body;
  }

  async function loadLedger(a) {
    const gen = ++ledger.gen;
    try {
      const starts = [''];
      let page = await ledgerPage(a, '');
      while (page.next && starts.length < LEDGER_WALK) {
        if (gen !== ledger.gen) return;
        starts.push(page.next);
        page = await ledgerPage(a, page.next);
      }
      if (gen !== ledger.gen) return;
      ledger = { gen, access: a, starts, shown: starts.length - 1 };
      const rows = $('c-ledger').tBodies[0];
      rows.textContent = '';
      appendLedger(page.entries || []);
      if (!rows.rows.length) emptyRow(rows, 7, 'Nothing is recorded yet.');
      $('ledger-more').hidden = ledger.shown === 0;
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      if (gen === ledger.gen) showError('general', e.problem.title, e.problem.detail);
    }
  }

  async function olderLedger() {
    const { gen, access: a } = ledger;
    if (!a || ledger.shown === 0) return;
    const button = $('ledger-more');
    busy(button, true);
    try {
      const page = await ledgerPage(a, ledger.starts[ledger.shown - 1]);
      if (gen !== ledger.gen) return;
      ledger.shown--;
      appendLedger(page.entries || []);
      button.hidden = ledger.shown === 0;
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      showError('general', e.problem.title, e.problem.detail);
    } finally {
      busy(button, false);
    }
  }

  // appendLedger adds a page of entries (oldest first, as the API lists
  // them) below the rows shown, newest first.
  function appendLedger(entries) {
    const rows = $('c-ledger').tBodies[0];
    for (const e of entries.slice().reverse()) {
      const tr = document.createElement('tr');
      tr.dataset.entry = e.id;
      cell(tr, day(e.at));
      cell(tr, e.action);
      cell(tr, e.outcome, 'outcome-' + e.outcome);
      cell(tr, String(e.status), 'num');
      cell(tr, e.appliance || '', 'mono');
      cell(tr, e.license || '', 'mono');
      cell(tr, e.detail || '', 'detail');
      rows.append(tr);
    }
  }

  function emptyRow(tbody, span, text) {
    const tr = document.createElement('tr');
    const td = cell(tr, text, 'muted');
    td.colSpan = span;
    tbody.append(tr);
  }

  // drawTimeline draws each license as a bar over its window [from, until),
  // with year or quarter ticks and a line at today. SVG attributes only: the
  // page's policy allows no inline style.
  function drawTimeline(box, licenses, now) {
    box.textContent = '';
    if (!licenses.length) return;
    const W = 860, LABEL = 190, ROW = 26, TOP = 24, PAD = 12;
    let lo = Math.min(now, ...licenses.map((l) => Date.parse(l.from)));
    let hi = Math.max(now, ...licenses.map((l) => Date.parse(l.until)));
    const span = Math.max(hi - lo, 86400e3);
    lo -= span * 0.03;
    hi += span * 0.03;
    const x = (t) => LABEL + (W - LABEL - PAD) * (t - lo) / (hi - lo);
    const H = TOP + ROW * licenses.length + 18;

    const svg = el('svg', { viewBox: '0 0 ' + W + ' ' + H, role: 'img', class: 'timeline-svg' });
    svg.append(el('title', {}, 'License windows on a time line'));

    // ticks: quarters for spans up to three years, else years
    const start = new Date(lo);
    const years = (hi - lo) / (365.25 * 86400e3);
    const step = years > 3 ? 12 : 3;
    let m = start.getUTCMonth() - (start.getUTCMonth() % step) + step;
    let tick = Date.UTC(start.getUTCFullYear(), m, 1);
    while (tick < hi) {
      const d = new Date(tick);
      const tx = x(tick);
      svg.append(el('line', { x1: tx, x2: tx, y1: TOP - 6, y2: H - 4, class: 'tick' }));
      const label = step === 12 ? String(d.getUTCFullYear()) : d.toISOString().slice(0, 7);
      svg.append(el('text', { x: tx + 3, y: TOP - 10, class: 'tick-label' }, label));
      m += step;
      tick = Date.UTC(start.getUTCFullYear(), m, 1);
    }

    licenses.forEach((l, i) => {
      const y = TOP + i * ROW;
      const st = standing(l, now);
      const from = Date.parse(l.from), until = Date.parse(l.until);
      svg.append(el('text', { x: 0, y: y + ROW / 2 + 4, class: 'row-label' }, l.id.slice(0, 10) + '… ' + l.reason));
      const bar = el('rect', { x: x(from), y: y + 4, width: Math.max(2, x(until) - x(from)), height: ROW - 8, rx: 3,
        class: 'bar reason-' + l.reason + ' standing-' + st, 'data-license': l.id });
      bar.append(el('title', {}, l.id + ' (' + l.reason + ', ' + st + '): ' + day(l.from) + ' → ' + day(l.until)));
      svg.append(bar);
    });

    const nx = x(now);
    svg.append(el('line', { x1: nx, x2: nx, y1: TOP - 6, y2: H - 12, class: 'now' }));
    svg.append(el('text', { x: nx + 3, y: H - 2, class: 'now-label' }, 'today'));
    box.append(svg);
  }

  function el(name, attrs, text) {
    const e = document.createElementNS(SVG, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
    if (text !== undefined) e.textContent = text;
    return e;
  }

  // ---- step 2: activation ------------------------------------------------

  let downloadURL = null;

  async function activate(ev) {
    ev.preventDefault();
    clearErrors(['contract', 'token', 'lrf', 'effective']);
    const a = access();
    const request = await readDocument('lrf', 'license request');
    if (!a || request === null) return;
    const body = { contract: a.contract, request };
    const eff = $('effective').value;
    if (eff) body.effective = eff;
    const button = $('get-license');
    busy(button, true);
    try {
      const { status, body: lic } = await api('POST', 'v1/activations', a.token, body);
      showLicense(lic, status === 200);
      shown = a;
      await refreshContract();
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      showError(fieldFor(e.problem, 'lrf'), e.problem.title, e.problem.detail, adviceFor(e.problem, 'lrf'));
    } finally {
      busy(button, false);
    }
  }

  function showLicense(lic, replay) {
    const name = lic.id + '.license';
    $('license-id').textContent = lic.id;
    $('license-reason').textContent = lic.reason;
    $('license-reason').className = 'badge reason-' + lic.reason;
    $('license-from').textContent = day(lic.from);
    $('license-until').textContent = day(lic.until);
    $('license-appliance').textContent = lic.appliance;
    $('license-replay').hidden = !replay;
    $('install-cmd').textContent = 'tenure install ' + name;
    if (downloadURL) URL.revokeObjectURL(downloadURL);
    downloadURL = URL.createObjectURL(new Blob([lic.license], { type: 'application/octet-stream' }));
    const link = $('download');
    link.href = downloadURL;
    link.download = name;
    link.textContent = 'Download ' + name + ' again';
    $('activation').hidden = false;
    link.click();
  }

  // ---- step 3: release ---------------------------------------------------

  async function release(ev) {
    ev.preventDefault();
    clearErrors(['contract', 'token', 'receipt']);
    const a = access();
    const receipt = await readDocument('receipt', 'release receipt');
    if (!a || receipt === null) return;
    const button = $('send-receipt');
    busy(button, true);
    try {
      const { body } = await api('POST', 'v1/releases', a.token, { receipt });
      $('released-ids').textContent = body.released.length ? body.released.join(', ') : 'nothing more (this receipt was sent before)';
      $('released-free').textContent = body.appliances_free + (body.appliances_free === 1 ? ' seat is' : ' seats are') + ' free on the contract.';
      $('released').hidden = false;
      shown = a;
      await refreshContract();
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      showError(fieldFor(e.problem, 'receipt'), e.problem.title, e.problem.detail);
    } finally {
      busy(button, false);
    }
  }

  // ---- step 4: a usage report ----------------------------------------------

  // readReport takes the pasted report, else the chosen file.
  async function readReport() {
    const pasted = $('report-text').value.replace(/\r\n/g, '\n').trim();
    if (!pasted) return readDocument('report', 'usage report');
    if (pasted.length > MAX_DOCUMENT) {
      showError('report', 'The report is too large', 'The pasted text is ' + pasted.length + ' characters; a usage report is at most 64 KiB. Is it what tenure report printed?');
      return null;
    }
    return pasted + '\n';
  }

  async function sendReport(ev) {
    ev.preventDefault();
    clearErrors(['contract', 'token', 'report']);
    const a = access();
    const report = await readReport();
    if (!a || report === null) return;
    const button = $('send-report');
    busy(button, true);
    try {
      const { status, body } = await api('POST', 'v1/reports', a.token, { contract: a.contract, report });
      $('report-id').textContent = body.id;
      $('report-appliance').textContent = body.appliance;
      $('report-from').textContent = day(body.period.from);
      $('report-until').textContent = day(body.period.until);
      $('report-replay').hidden = status !== 200;
      $('reported').hidden = false;
      shown = a;
      await refreshContract();
    } catch (e) {
      if (!(e instanceof Problem)) throw e;
      $('reported').hidden = true;
      showError(fieldFor(e.problem, 'report'), e.problem.title, e.problem.detail, adviceFor(e.problem, 'report'));
    } finally {
      busy(button, false);
    }
  }

  // ---- file boxes: drop or choose ----------------------------------------

  function fileBox(field) {
    const input = $(field), box = $(field + '-drop'), name = $(field + '-name');
    const empty = Array.from(name.childNodes, (n) => n.cloneNode(true));
    const show = () => {
      const f = input.files[0];
      if (f) name.textContent = f.name + ' (' + f.size + ' bytes)';
      else name.replaceChildren(...empty.map((n) => n.cloneNode(true)));
      box.classList.toggle('has-file', !!f);
    };
    input.addEventListener('change', () => { clearErrors([field]); show(); });
    box.addEventListener('dragover', (e) => { e.preventDefault(); box.classList.add('over'); });
    box.addEventListener('dragleave', () => box.classList.remove('over'));
    box.addEventListener('drop', (e) => {
      e.preventDefault();
      box.classList.remove('over');
      if (e.dataTransfer && e.dataTransfer.files.length) {
        input.files = e.dataTransfer.files;
        clearErrors([field]);
        show();
      }
    });
    show();
  }

  function start() {
    loadAccess();
    // A file dropped beside a box must not replace the page (and with it
    // everything typed).
    window.addEventListener('dragover', (e) => e.preventDefault());
    window.addEventListener('drop', (e) => e.preventDefault());
    for (const id of ['contract', 'token']) {
      $(id).addEventListener('input', () => { saveAccess(); clearErrors([id]); });
    }
    $('effective').addEventListener('input', () => clearErrors(['effective']));
    fileBox('lrf');
    fileBox('receipt');
    fileBox('report');
    $('report-text').addEventListener('input', () => clearErrors(['report']));
    $('access-form').addEventListener('submit', openContract);
    $('activate-form').addEventListener('submit', activate);
    $('release-form').addEventListener('submit', release);
    $('report-form').addEventListener('submit', sendReport);
    $('refresh').addEventListener('click', refreshContract);
    $('ledger-more').addEventListener('click', olderLedger);
    $('download').addEventListener('click', (e) => { if (!downloadURL) e.preventDefault(); });
    document.documentElement.classList.add('ready');
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
