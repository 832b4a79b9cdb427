// fanoutd dashboard (issue #20). Plain JavaScript, no build step and no
// library: the page is a few views over the daemon's own API.
//
// - Live data comes from GET /v1/stats?follow=true (SSE, one snapshot a
//   second), read with fetch() and a streaming reader so the bearer
//   token can go in a header (EventSource cannot send one). When the
//   stream drops, the header says so and it reconnects with backoff.
// - The token, when the daemon asks for one (401), is kept in this tab's
//   sessionStorage and sent as "Authorization: Bearer"; no cookies.
// - Everything that came from an upstream or a caller (URLs, error
//   messages, titles, job names) is inserted as text (textContent or
//   text nodes), never as HTML.
// - Lists stay bounded: the overview shows what the snapshot holds (the
//   server caps it), a job's failures and results are read a page at a
//   time, so a job of a million items never puts a million rows here.
//
// A job's page is job.js, loaded after this file: the two share
// window.fanoutdUI (the helpers below, then job.js's showJob and
// jobTick), and the page starts once both have run (DOMContentLoaded).
'use strict';

(() => {
  const TOKEN_KEY = 'fanoutd.token';
  const STALL_MS = 5000;    // no snapshot for this long: reconnect
  const MAX_EVENT = 4 << 20; // bytes of one SSE event we accept

  const $ = (id) => document.getElementById(id);
  let token = sessionStorage.getItem(TOKEN_KEY) || '';
  let needToken = false;
  let lastStats = null;

  // --- helpers -------------------------------------------------------------

  // el('td', {class: 'x'}, child...): strings become text nodes.
  function el(tag, attrs, ...kids) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === 'class') e.className = v;
      else e.setAttribute(k, v);
    }
    for (const k of kids) {
      e.append(k instanceof Node ? k : document.createTextNode(String(k)));
    }
    return e;
  }

  function setText(id, v) { $(id).textContent = String(v); }

  // What a job's link says: its name, or the start of its ID when it
  // has none or a blank one (a blank link could not be clicked).
  function jobLabel(j) {
    return j.name !== null && j.name.trim() !== '' ? j.name : j.id.slice(0, 12);
  }

  function fmtNum(n) {
    if (n === null || n === undefined) return '-';
    return Number(n).toLocaleString('en-US');
  }

  function fmtRate(r) {
    if (r === null || r === undefined) return '-';
    return r >= 100 ? Math.round(r).toLocaleString('en-US') : r.toFixed(1);
  }

  function fmtDur(s) {
    if (s === null || s === undefined) return '-';
    s = Math.round(s);
    if (s < 60) return s + ' s';
    if (s < 3600) return Math.floor(s / 60) + ' min ' + (s % 60) + ' s';
    return Math.floor(s / 3600) + ' h ' + Math.floor((s % 3600) / 60) + ' min';
  }

  // A bar of ok (green) and failed (red) out of total; widths are set
  // through the CSSOM, which the page's CSP allows (no style attribute).
  // A cancelled job's "failed" part is mostly cancelled items: grey.
  function bar(total, ok, failed, big, cancelled) {
    const b = el('div', {class: 'progress' + (big ? ' big' : '') +
      (cancelled ? ' cancelled' : '')});
    const o = el('div', {class: 'ok'});
    const f = el('div', {class: 'failed'});
    setBar(o, f, total, ok, failed);
    b.append(o, f);
    return b;
  }

  function setBar(o, f, total, ok, failed) {
    const t = total > 0 ? total : 1;
    o.style.width = (100 * ok / t) + '%';
    f.style.width = (100 * failed / t) + '%';
  }

  function pct(total, done) {
    if (!total) return '100%';
    return Math.floor(100 * done / total) + '%';
  }

  function authHeaders(extra) {
    const h = Object.assign({}, extra || {});
    if (token) h.Authorization = 'Bearer ' + token;
    return h;
  }

  class AuthError extends Error {}

  // One API call; the parsed JSON answer, or an Error naming what the
  // daemon said. A 401 asks for the token.
  async function api(method, path, body, type) {
    const opts = {
      method, cache: 'no-store', credentials: 'omit',
      headers: authHeaders(type ? {'Content-Type': type} : {}),
    };
    if (body !== undefined) opts.body = body;
    const r = await fetch(path, opts);
    if (r.status === 401) {
      askToken(token ? 'the token was refused' : '');
      throw new AuthError('a token is required');
    }
    const text = await r.text();
    let doc = null;
    try { doc = text ? JSON.parse(text) : null; } catch (e) { doc = null; }
    if (!r.ok) throw Object.assign(new Error(errorText(r, doc)), {status: r.status});
    return doc;
  }

  // What a refused request says: the daemon's JSON error, else the status.
  function errorText(r, doc) {
    return doc && doc.error
      ? doc.error.type + ': ' + doc.error.message : 'HTTP ' + r.status;
  }

  // Reads a response body as pieces ending in sep, as they come, and
  // hands each to onPiece until it says false (then returns false) or
  // the body ends (true). A piece over MAX_EVENT bytes is an error.
  async function readPieces(body, sep, onPiece) {
    const reader = body.getReader();
    const dec = new TextDecoder();
    let buf = '';
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return true;
      buf += dec.decode(value, {stream: true});
      let i;
      while ((i = buf.indexOf(sep)) >= 0) {
        const piece = buf.slice(0, i);
        buf = buf.slice(i + sep.length);
        if (!onPiece(piece)) return false;
      }
      if (buf.length > MAX_EVENT) throw new Error('a line or event is too long');
    }
  }

  // Lines of an NDJSON answer, read as they come; stops (and aborts the
  // request) once want(line) says false. For paging through results.
  async function ndjson(path, want) {
    const ctl = new AbortController();
    const r = await fetch(path, {
      cache: 'no-store', credentials: 'omit', signal: ctl.signal,
      headers: authHeaders({Accept: 'application/x-ndjson'}),
    });
    if (r.status === 401) {
      askToken(token ? 'the token was refused' : '');
      throw new AuthError('a token is required');
    }
    if (!r.ok) {
      let doc = null;
      try { doc = await r.json(); } catch (e) { /* keep the status */ }
      throw new Error(errorText(r, doc));
    }
    const whole = await readPieces(r.body, '\n',
      (line) => line.trim() === '' || want(JSON.parse(line)));
    if (!whole) ctl.abort();
  }

  // A link to an API path that downloads it: a click always goes
  // through fetch() (with the token when there is one) and saves a blob
  // under a file name; the tab never navigates away. name(type) gives
  // the file name from the response's Content-Type.
  function apiLink(path, label, name) {
    const a = el('a', {href: path}, label);
    a.addEventListener('click', async (ev) => {
      ev.preventDefault();
      try {
        const r = await fetch(path, {
          cache: 'no-store', headers: authHeaders(), credentials: 'omit',
        });
        if (r.status === 401) {
          askToken(token ? 'the token was refused' : '');
          return;
        }
        if (!r.ok) throw new Error('download: HTTP ' + r.status);
        const type = (r.headers.get('Content-Type') || '').split(';')[0].trim();
        const url = URL.createObjectURL(await r.blob());
        const d = el('a', {href: url, download: name(type.toLowerCase())});
        document.body.append(d);
        d.click();
        d.remove();
        setTimeout(() => URL.revokeObjectURL(url), 10000);
      } catch (e) {
        setText('job-msg', e.message);
      }
    });
    return a;
  }


  // --- the connection indicator and the token -----------------------------

  function setConn(on, text) {
    const c = $('conn');
    c.className = 'conn ' + (on ? 'on' : 'off');
    c.textContent = text;
  }

  function askToken(why) {
    needToken = true;
    stopStream();
    setConn(false, 'token required');
    setText('login-error', why || '');
    route();
  }

  $('login-form').addEventListener('submit', (ev) => {
    ev.preventDefault();
    token = $('login-token').value.trim();
    $('login-token').value = '';
    sessionStorage.setItem(TOKEN_KEY, token);
    needToken = false;
    startStream();
    route();
  });

  // --- the live stream -----------------------------------------------------

  let streamGen = 0;
  let streamCtl = null;
  let retryMs = 1000;

  function stopStream() {
    streamGen++;
    if (streamCtl) streamCtl.abort();
    streamCtl = null;
  }

  function startStream() {
    stopStream();
    readStream(streamGen);
  }

  // Read snapshots until the stream ends, stalls or fails; then say so
  // and come back after a backoff (1 s, doubling to 10 s).
  async function readStream(gen) {
    const ctl = new AbortController();
    streamCtl = ctl;
    let stall = setTimeout(() => ctl.abort(), STALL_MS);
    try {
      const r = await fetch('/v1/stats?follow=true&format=sse', {
        cache: 'no-store', credentials: 'omit', signal: ctl.signal,
        headers: authHeaders({Accept: 'text/event-stream'}),
      });
      if (r.status === 401) {
        clearTimeout(stall);
        askToken(token ? 'the token was refused' : '');
        return;
      }
      if (!r.ok || !r.body) throw new Error('HTTP ' + r.status);
      await readPieces(r.body, '\n\n', (ev) => {
        let name = 'message';
        const data = [];
        for (const line of ev.split('\n')) {
          if (line.startsWith('event:')) name = line.slice(6).trim();
          else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        }
        if (name !== 'stats' || data.length === 0) return true;
        clearTimeout(stall);
        stall = setTimeout(() => ctl.abort(), STALL_MS);
        retryMs = 1000;
        setConn(true, 'live');
        onStats(JSON.parse(data.join('\n')));
        return true;
      });
    } catch (e) {
      // ended below
    } finally {
      clearTimeout(stall);
    }
    if (gen !== streamGen) return;
    // Count down the wait, a second at a time, then try again.
    let left = Math.round(retryMs / 1000);
    retryMs = Math.min(retryMs * 2, 10000);
    const tick = () => {
      if (gen !== streamGen) return;
      if (left <= 0) {
        setConn(false, 'reconnecting');
        readStream(gen);
        return;
      }
      setConn(false, 'disconnected; reconnecting in ' + left + ' s');
      left--;
      setTimeout(tick, 1000);
    };
    tick();
  }

  function onStats(s) {
    lastStats = s;
    if (view === 'overview') renderOverview(s);
    if (view === 'job') ui.jobTick(s);
  }

  // --- overview ------------------------------------------------------------

  function renderOverview(s) {
    const sv = s.server;
    setText('s-inflight', fmtNum(sv.in_flight));
    setText('s-queued', fmtNum(sv.queued));
    setText('s-rate', fmtNum(sv.items_per_s));
    setText('s-ended', fmtNum(sv.items_ended));
    const h = sv.history || [];
    const max = Math.max(1, ...h);
    setText('s-max', fmtNum(max));
    $('s-line').setAttribute('points', h.map((v, i) =>
      (i * 120 / Math.max(1, h.length - 1)).toFixed(1) + ',' +
      (38 - 36 * v / max).toFixed(1)).join(' '));
    const errs = Object.entries(sv.errors || {}).sort((a, b) => b[1] - a[1]);
    $('s-errors').replaceChildren(...(errs.length
      ? errs.map(([k, v]) => el('li', {}, k + ': ' + fmtNum(v)))
      : [el('li', {class: 'empty'}, 'none')]));

    setText('jobs-count', '(' + s.jobs.length + ')');
    $('jobs-more').hidden = !s.jobs_more;
    // The first JOBS_SHOWN unless asked for all: with 100 active jobs
    // the batches and the hosts stay in sight.
    const shown = jobsAll ? s.jobs : s.jobs.slice(0, JOBS_SHOWN);
    $('jobs-all-p').hidden = s.jobs.length <= JOBS_SHOWN;
    setText('jobs-all', jobsAll ? 'Show the first ' + JOBS_SHOWN
      : 'Show all ' + s.jobs.length);
    syncRows($('jobs-body'), shown.length ? shown.map((j) => el('tr', {'data-key': j.id},
      el('td', {}, el('a', {href: '#/jobs/' + encodeURIComponent(j.id)},
        jobLabel(j))),
      el('td', {}, j.state),
      el('td', {class: 'bar'}, bar(j.total, j.ok, j.failed, false, j.state === 'cancelled')),
      el('td', {}, fmtNum(j.done) + ' / ' + fmtNum(j.total) + ' (' + pct(j.total, j.done) + ')'),
      el('td', {}, fmtNum(j.ok)),
      el('td', {}, fmtNum(j.failed)),
      el('td', {}, fmtRate(j.rate)),
      el('td', {}, fmtDur(j.age_s)),
      el('td', {}, fmtDur(j.eta_s)))) : [emptyRow(9, 'no active job')]);

    setText('batches-count', '(' + s.batches.length + ')');
    $('batches-body').replaceChildren(...(s.batches.length ? s.batches.map((b) => el('tr', {},
      el('td', {}, '#' + b.id),
      el('td', {}, b.peer),
      el('td', {class: 'bar'}, bar(b.total, b.ok, b.failed)),
      el('td', {}, fmtNum(b.done) + ' / ' + fmtNum(b.total) + ' (' + pct(b.total, b.done) + ')'),
      el('td', {}, fmtNum(b.ok)),
      el('td', {}, fmtNum(b.failed)),
      el('td', {}, fmtRate(b.rate)),
      el('td', {}, fmtDur(b.age_s)),
      el('td', {}, fmtDur(b.eta_s)))) : [emptyRow(9, 'no running batch')]));

    // All jobs: read again when a job starts or ends, else every 5 s;
    // the active ones' counts follow each snapshot meanwhile.
    const active = s.jobs.map((j) => j.id + ' ' + j.state).join(',');
    if (active !== listActive || Date.now() - listAt > 5000) {
      listActive = active;
      loadJobList(listAfter);
    } else {
      renderJobList();
    }
    $('hosts-body').replaceChildren(...(s.hosts.length ? s.hosts.map((h) => el('tr', {},
      el('td', {class: 'url'}, h.host),
      el('td', {}, fmtNum(h.in_flight)),
      el('td', {}, fmtRate(h.rate)),
      el('td', {}, (100 * h.error_share).toFixed(1) + '%'),
      el('td', {}, fmtNum(h.attempts)))) : [emptyRow(5, 'no host busy')]));
  }

  // --- every stored job, newest first, a page at a time (GET /v1/jobs) ----

  const JOB_PAGE = 20;
  let listAfter = '';      // the cursor of the page shown ('' = first)
  let listStack = [];      // the cursors of the pages before it
  let listNext = null;     // the next page's cursor, or null
  let listAt = 0;          // when the list was last read (ms)
  let listBusy = false;
  let listJobs = [];       // the jobs of the page shown
  let listActive = '';     // the active jobs (IDs and states) last seen
  const JOBS_SHOWN = 20;   // active jobs listed unless all are asked for
  let jobsAll = false;
  $('jobs-all').addEventListener('click', () => {
    jobsAll = !jobsAll;
    if (lastStats) renderOverview(lastStats);
  });

  // Shows the page of stored jobs read last, an active job's state and
  // counts as the last snapshot has them (the list is read every 5 s).
  function renderJobList() {
    const live = new Map(lastStats ? lastStats.jobs.map((j) => [j.id, j]) : []);
    syncRows($('all-body'), listJobs.length ? listJobs.map((j) => {
      const s = live.get(j.id);
      const c = s ? s : j.counts;
      const state = s ? s.state : j.state;
      return el('tr', {'data-key': j.id},
        el('td', {}, el('a', {href: '#/jobs/' + encodeURIComponent(j.id)},
          jobLabel(j))),
        el('td', {}, state),
        el('td', {class: 'bar'}, bar(c.total, c.ok, c.failed, false, state === 'cancelled')),
        el('td', {}, fmtNum(c.ok + c.failed) + ' / ' + fmtNum(c.total)),
        el('td', {}, fmtNum(c.ok)),
        el('td', {}, fmtNum(c.failed)),
        el('td', {}, j.created_at ? j.created_at.replace('T', ' ').replace(/\.\d+Z$|Z$/, '') : '-'));
    }) : [emptyRow(7, 'no stored job')]);
  }

  // Reads the page of stored jobs after `after` and shows it.
  async function loadJobList(after) {
    if (listBusy) return;
    listBusy = true;
    try {
      const doc = await api('GET', '/v1/jobs?order=newest&limit=' + JOB_PAGE +
        (after ? '&after=' + encodeURIComponent(after) : ''));
      listAt = Date.now();
      listAfter = after;
      listNext = doc.next;
      listJobs = doc.jobs || [];
      renderJobList();
      const page = listStack.length + 1;
      setText('all-pos', 'page ' + page);
      $('all-prev').disabled = listStack.length === 0;
      $('all-next').disabled = listNext === null;
    } catch (e) {
      if (!(e instanceof AuthError)) setText('all-msg', e.message);
    } finally {
      listBusy = false;
    }
  }

  $('all-next').addEventListener('click', () => {
    if (listNext === null) return;
    listStack.push(listAfter);
    loadJobList(listNext);
  });
  $('all-prev').addEventListener('click', () => {
    if (listStack.length) loadJobList(listStack.pop());
  });

  // Puts rows into tbody. When the rows shown are the same ones (each
  // row's data-key) in the same order, only the cells that changed are
  // swapped: a link is never replaced by an equal one between the press
  // and the release of a click on it (each snapshot redraws the lists).
  function syncRows(tbody, rows) {
    const cur = Array.from(tbody.rows);
    if (cur.length !== rows.length ||
      !cur.every((r, i) => r.dataset.key && r.dataset.key === rows[i].dataset.key)) {
      tbody.replaceChildren(...rows);
      return;
    }
    rows.forEach((r, i) => {
      Array.from(r.cells).forEach((c, k) => {
        if (!cur[i].cells[k].isEqualNode(c)) cur[i].cells[k].replaceWith(c);
      });
    });
  }

  function emptyRow(n, text) {
    return el('tr', {}, el('td', {class: 'empty', colspan: String(n)}, text));
  }

  // --- submit --------------------------------------------------------------

  // The URLs of a pasted list, as the daemon reads a text/plain one:
  // one per line, blank lines and # comments skipped.
  function urlLines(text) {
    return text.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  }

  $('submit-form').addEventListener('submit', async (ev) => {
    ev.preventDefault();
    setText('sub-error', '');
    const q = new URLSearchParams();
    const asked = {};
    for (const k of ['concurrency', 'rate', 'retries']) {
      const v = $('sub-' + k).value.trim();
      if (v !== '') {
        q.set(k, v);
        asked[k] = v;
      }
    }
    const x = ['title', 'links', 'meta'].filter((k) => $('sub-x-' + k).checked);
    if (x.length) q.set('extract', x.join(','));
    const file = $('sub-file').files[0];
    const text = $('sub-urls').value;
    const name = $('sub-name').value.trim();
    if (file && text.trim() !== '') {
      setText('sub-error', 'Both pasted URLs and a file: clear the text box or the file, ' +
        'one job takes one list.');
      return;
    }
    if (!file && text.trim() === '') {
      setText('sub-error', 'Paste URLs or choose a file.');
      return;
    }
    $('sub-go').disabled = true;
    try {
      // A URL list as text/plain, options in the query (DESIGN.md §1);
      // a file goes as it is, never read into the page. A name needs
      // the JSON form ("job": {"name"}): the list is read then.
      let body = file || text;
      let type = 'text/plain';
      if (name !== '') {
        body = JSON.stringify({
          requests: urlLines(file ? await file.text() : text),
          job: {name},
        });
        type = 'application/json';
      }
      const doc = await api('POST', '/v1/jobs' + (q.toString() ? '?' + q : ''), body, type);
      ui.requested.set(doc.job.id, asked);
      location.hash = '#/jobs/' + encodeURIComponent(doc.job.id);
    } catch (e) {
      if (!(e instanceof AuthError)) setText('sub-error', e.message);
    } finally {
      $('sub-go').disabled = false;
    }
  });

  // --- views ---------------------------------------------------------------

  let view = null;
  const VIEWS = ['login', 'overview', 'job', 'submit'];

  function show(v) {
    view = v;
    for (const n of VIEWS) $('view-' + n).hidden = n !== v;
    $('nav-overview').className = v === 'overview' ? 'active' : '';
    $('nav-submit').className = v === 'submit' ? 'active' : '';
  }

  function route() {
    const h = location.hash || '#/';
    if (needToken) {
      show('login');
      $('login-token').focus();
    } else if (h.startsWith('#/jobs/')) {
      show('job');
      ui.showJob(decodeURIComponent(h.slice(7)));
    } else if (h === '#/submit') {
      show('submit');
    } else {
      show('overview');
      if (lastStats) renderOverview(lastStats);
      loadJobList(listAfter);
    }
  }

  // A hidden tab lets its stream go: a browser keeps six connections to
  // one host, and each stream holds one for as long as it runs, so a
  // sixth tab (job pages opened in new tabs) would wait for ever. It
  // reads again, and catches up, when shown.
  function onVisibility() {
    if (document.hidden) {
      stopStream();
      setConn(false, 'paused (tab hidden)');
    } else if (!needToken) {
      startStream();
      route();
    }
  }

  // What job.js takes from here.
  const ui = window.fanoutdUI = {
    $, el, setText, fmtNum, setBar, pct, api, ndjson, apiLink, emptyRow, AuthError,
  };

  document.addEventListener('DOMContentLoaded', () => {
    document.addEventListener('visibilitychange', onVisibility);
    window.addEventListener('hashchange', route);
    route();
    if (document.hidden) setConn(false, 'paused (tab hidden)');
    else startStream();
  });
})();
