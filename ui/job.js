// fanoutd dashboard: a job's page (issue #20), loaded after app.js,
// whose helpers it takes from window.fanoutdUI and to which it adds
// showJob(id) (open or refresh the page of job id), jobTick(snapshot)
// (each live snapshot while the page is shown) and requested (what the
// submit form asked for, by job ID). Its counts, options, the latest
// results, the failures that stand grouped by type and All results,
// each read a page at a time; Cancel (two clicks) and Retry failed.
'use strict';

(() => {
  const ui = window.fanoutdUI;
  const {$, el, setText, fmtNum, setBar, pct, api, ndjson, apiLink, emptyRow, AuthError} = ui;
  const FAIL_PAGE = 50;     // failed items (and results) per page
  const RECENT = 10;        // latest results shown on a job's page

  // File name extensions for a body's Content-Type (else .bin).
  const EXT = {
    'text/html': 'html', 'text/plain': 'txt', 'application/json': 'json',
    'application/x-ndjson': 'ndjson', 'text/css': 'css', 'text/csv': 'csv',
    'application/xml': 'xml', 'text/xml': 'xml', 'application/pdf': 'pdf',
    'image/png': 'png', 'image/jpeg': 'jpg', 'image/gif': 'gif',
    'image/svg+xml': 'svg', 'image/webp': 'webp',
    'text/javascript': 'js', 'application/javascript': 'js',
  };

  // The link to item `index`'s stored body: job-ID-item-N.<ext>.
  function bodyLink(id, index) {
    return apiLink('/v1/jobs/' + encodeURIComponent(id) + '/items/' + index + '/body',
      'body', (type) => 'job-' + id + '-item-' + index + '.' + (EXT[type] || 'bin'));
  }

  // --- a job's page --------------------------------------------------------

  const ARM_MS = 4000;    // Cancel stays armed this long

  let jobId = null;
  let job = null;         // the job as last read, null while loading
  let jobGone = false;    // the daemon said: no such job
  let jobBusy = false;
  // A pager: the cursor of the page shown (after), those of the pages
  // before it (stack) and the next page's (next, null at the end).
  const pager = () => ({after: 0, stack: [], next: null});
  let failPg = pager();   // the failures' pages
  let resPg = pager();    // All results' pages
  let failSeen = '';      // job state + failed count the page was read at
  let recentSeen = -1;    // last_seq the latest results were read at
  let armTimer = null;    // Cancel armed: the timer that disarms it
  // What the submit form asked for, by job ID: shown against the
  // effective options when the server capped a value.
  const requested = new Map();

  function jobUrl(rest) {
    return '/v1/jobs/' + encodeURIComponent(jobId) + (rest || '');
  }

  async function showJob(id) {
    if (id !== jobId) {
      jobId = id;
      job = null;
      jobGone = false;
      failPg = pager();
      failSeen = '';
      recentSeen = -1;
      resPg = pager();
      resRows = 0;
      disarm();
      setText('job-id', id);
      setText('job-name', '');
      setText('job-state', 'loading');
      setText('job-msg', '');
      setText('job-capped', '');
      setText('job-wait', '');
      setText('fail-count', '');
      setText('fail-pos', '');
      $('fail-groups').replaceChildren();
      $('recent-body').replaceChildren();
      $('res-body').replaceChildren();
      setText('res-pos', '');
      $('job-results').replaceWith(Object.assign(
        apiLink(jobUrl('/results'), 'Results (NDJSON)', () => 'job-' + id + '.ndjson'),
        {id: 'job-results'}));
      setActions();
    }
    await refreshJob();
  }

  // Cancel, Retry and the failures' paging: off while loading, for an
  // unknown job, and when the job's state does not allow them.
  function setActions() {
    const ready = job !== null && !jobGone;
    const active = ready && (job.state === 'queued' || job.state === 'running');
    $('job-cancel').disabled = !active;
    $('job-retry').disabled = !ready || active || job.counts.failed === 0;
    for (const [pfx, pg] of [['fail', failPg], ['res', resPg]]) {
      $(pfx + '-next').disabled = !ready || pg.next === null;
      $(pfx + '-prev').disabled = !ready || pg.stack.length === 0;
      $(pfx + '-first').disabled = !ready || pg.stack.length === 0;
    }
    $('job-results').hidden = jobGone;
    if (!active) disarm();
  }

  // While a pointer is pressed (a click under way) the lists are not
  // redrawn - a running job's change each second would replace the
  // link under it and lose the click - and are read once it is up.
  let pressed = false;
  let listsSkipped = false;
  document.addEventListener('pointerdown', () => { pressed = true; }, true);
  for (const t of ['pointerup', 'pointercancel']) {
    document.addEventListener(t, () => {
      pressed = false;
      if (listsSkipped) {
        listsSkipped = false;
        setTimeout(refreshJob, 0); // after the click's handlers
      }
    }, true);
  }

  async function refreshJob() {
    if (jobBusy || jobId === null) return;
    jobBusy = true;
    const id = jobId;
    try {
      let doc;
      try {
        doc = await api('GET', jobUrl());
      } catch (e) {
        if ((e.status === 404 || e.status === 400) && id === jobId) {
          jobGone = true;
          job = null;
          setText('job-state', 'no such job (unknown, expired or deleted)');
          $('fail-groups').replaceChildren();
          $('recent-body').replaceChildren();
          $('res-body').replaceChildren();
          setActions();
          return;
        }
        throw e;
      }
      if (id !== jobId) return;
      job = doc.job;
      jobGone = false;
      renderJob();
      if (pressed) {
        listsSkipped = true; // read once the pointer is released
        return;
      }
      const seen = job.state + ' ' + job.counts.failed;
      if (seen !== failSeen && failPg.stack.length === 0) {
        failSeen = seen;
        await loadFailures(0, []);
      }
      if (job.last_seq !== recentSeen) {
        recentSeen = job.last_seq;
        await loadRecent();
        if (resPg.stack.length === 0 && resRows < FAIL_PAGE) await loadResults(0, []);
      }
    } catch (e) {
      if (!(e instanceof AuthError)) setText('job-msg', e.message);
    } finally {
      jobBusy = false;
    }
  }

  // Settled: nothing queued, running, pending or in flight any more
  // (after a cancel, the pending items still get their lines).
  function settled(j) {
    return j.state !== 'queued' && j.state !== 'running' &&
      j.counts.pending === 0 && j.counts.in_flight === 0;
  }

  // Each snapshot refreshes the job's page until the job has settled.
  let jobLastTick = 0;
  function jobTick(s) {
    if (jobGone || jobId === null) return;
    const live = s.jobs.some((j) => j.id === jobId);
    // Nothing in flight but items queued: say what it waits for.
    const sj = s.jobs.find((j) => j.id === jobId);
    setText('job-wait', sj && sj.in_flight === 0 && sj.queued > 0
      ? 'Nothing in flight: ' + fmtNum(sj.queued) + ' queued, waiting for the rate or a ' +
        'free slot (the job\'s concurrency, a host\'s or the server\'s).' : '');
    if ((job === null || live || !settled(job)) && Date.now() - jobLastTick > 900) {
      jobLastTick = Date.now();
      refreshJob();
    }
  }

  function renderJob() {
    const c = job.counts;
    const done = c.ok + c.failed;
    const cancelled = job.state === 'cancelled';
    setText('job-name', job.name !== null ? job.name : '');
    setText('job-state', job.state + (job.paused ? ' (paused: ' + job.paused + ')' : '') +
      (settled(job) ? '' : job.state === 'cancelled' ? ' (ending the pending items)' : ''));
    $('job-bar').className = 'progress big' + (cancelled ? ' cancelled' : '');
    setBar($('job-bar-ok'), $('job-bar-failed'), c.total, c.ok, c.failed);
    setText('job-pct', pct(c.total, done));
    setText('job-total', fmtNum(c.total));
    setText('job-ok', fmtNum(c.ok));
    // The API counts cancelled items as failed: say so once cancelled.
    setText('job-failed-k', cancelled ? 'failed or cancelled' : 'failed');
    setText('job-failed', fmtNum(c.failed));
    // The failures' count follows the job on every page of them.
    if (failSeen !== '') setText('fail-count', '(' + fmtNum(c.failed) + ')');
    setText('job-inflight', fmtNum(c.in_flight));
    setText('job-pending', fmtNum(c.pending));
    setText('job-options', JSON.stringify(job.options, null, 2));
    const asked = requested.get(job.id);
    const capped = [];
    for (const [k, v] of Object.entries(asked || {})) {
      const eff = job.options ? job.options[k] : undefined;
      if (typeof eff === 'number' && eff !== Number(v)) {
        capped.push(k + ': asked ' + v + ', the server set ' + eff);
      }
    }
    setText('job-capped', capped.length ? 'Capped by the server: ' + capped.join('; ') : '');
    setActions();
  }

  // Why an item failed, named as /v1/stats names it: the error type,
  // http_error for a status >= 400 (the status is in the message).
  function failKind(l) {
    return l.error ? l.error.type : 'http_error';
  }

  function failMessage(l) {
    return l.error ? l.error.message : 'HTTP ' + l.status;
  }

  // The body link of a line that has a stored body (its body_url).
  // Every line the page lists is its item's current one (?latest=true),
  // and the body the API serves is the current line's.
  function bodyCell(id, l) {
    return el('td', {}, l.body_url ? bodyLink(id, l.index) : '');
  }

  // One page (FAIL_PAGE lines) of the job's results matching query
  // after the cursor (the reader stops one line past it), with pager pg
  // moved to it (stack: the cursors of the pages before it); null when
  // the page shows another job meanwhile.
  async function resultsPage(query, pg, after, stack) {
    const id = jobId;
    const lines = [];
    await ndjson(jobUrl('/results?' + query + '&after=' + after), (l) => {
      if (l.summary === undefined) lines.push(l);
      return lines.length <= FAIL_PAGE;
    });
    if (id !== jobId) return null;
    pg.after = after;
    pg.stack = stack;
    pg.next = lines.length > FAIL_PAGE ? lines[FAIL_PAGE - 1].seq : null;
    return lines.slice(0, FAIL_PAGE);
  }

  // One page of the failures that stand (each failed item's current
  // line) after the cursor, grouped by error type; stack: the cursors
  // of the pages before it.
  async function loadFailures(after, stack) {
    const id = jobId;
    const page = await resultsPage('state=failed&latest=true', failPg, after, stack);
    if (page === null) return;
    const groups = new Map();
    for (const l of page) {
      const k = failKind(l);
      if (!groups.has(k)) groups.set(k, []);
      groups.get(k).push(l);
    }
    const total = job ? job.counts.failed : page.length;
    setText('fail-count', '(' + fmtNum(total) + ')');
    const first = stack.length * FAIL_PAGE;
    setText('fail-pos', page.length
      ? 'page ' + (stack.length + 1) + ': ' + fmtNum(first + 1) + '-' +
        fmtNum(first + page.length) + ' of ' + fmtNum(Math.max(total, first + page.length))
      : '');
    const out = [];
    for (const [k, ls] of groups) {
      const rows = ls.map((l) => el('tr', {},
        el('td', {}, String(l.index)),
        el('td', {class: 'url'}, l.url || ''),
        el('td', {class: 'msg'}, failMessage(l)),
        bodyCell(id, l)));
      out.push(el('div', {class: 'group' + (k === 'cancelled' ? ' cancelled' : '')},
        el('h4', {}, k + ' (' + ls.length + ' on this page)'),
        el('div', {class: 'scroll'}, el('table', {class: 'list'},
          el('thead', {}, el('tr', {}, el('th', {}, 'item'), el('th', {}, 'URL'),
            el('th', {}, 'message'), el('th', {}, ''))),
          el('tbody', {}, ...rows)))));
    }
    if (out.length === 0) out.push(el('p', {class: 'empty'}, 'No failed item.'));
    $('fail-groups').replaceChildren(...out);
    setActions();
  }

  // The latest results: the newest current lines (?latest=true) among
  // the last RECENT_SCAN lines (a line may carry its body: few of
  // them), newest first, with the title when extracted and a link to
  // each stored body.
  const RECENT_SCAN = 50;
  async function loadRecent() {
    const id = jobId;
    if (!job || job.last_seq === 0) return;
    const lines = [];
    await ndjson(jobUrl('/results?latest=true&after=' +
      Math.max(0, job.last_seq - RECENT_SCAN)), (l) => {
      if (l.summary === undefined) lines.push(l);
      return true;
    });
    if (id !== jobId) return;
    $('recent-body').replaceChildren(...lines.slice(-RECENT).reverse().map((l) => resultRow(id, l)));
  }

  // One result's row: item, outcome, URL, title, body link.
  function resultRow(id, l) {
    return el('tr', {},
      el('td', {}, String(l.index)),
      el('td', {}, l.ok ? 'ok' : failKind(l) + (l.error ? '' : ' (' + l.status + ')')),
      el('td', {class: 'url'}, l.url || ''),
      el('td', {class: 'url'}, l.extract && l.extract.title ? l.extract.title : ''),
      bodyCell(id, l));
  }

  // Every item's current result, in the order they ended, a page at a
  // time (First / Previous / Next, as the failures): the way to each
  // stored body, not only the latest ones'. Page 1 fills in live until
  // it is full; other pages are read when asked for.
  let resRows = 0;        // rows on the page shown
  async function loadResults(after, stack) {
    const id = jobId;
    const page = await resultsPage('latest=true', resPg, after, stack);
    if (page === null) return;
    resRows = page.length;
    const first = stack.length * FAIL_PAGE;
    setText('res-pos', page.length ? 'page ' + (stack.length + 1) + ': ' +
      fmtNum(first + 1) + '-' + fmtNum(first + page.length) : '');
    $('res-body').replaceChildren(...(page.length ? page.map((l) => resultRow(id, l))
      : [emptyRow(5, 'no result yet')]));
    setActions();
  }
  // Wires First / Previous / Next page (ids PFX-first, -prev, -next)
  // to load(after, stack); pos() gives the pager of the page shown.
  function wirePager(pfx, load, pos) {
    const go = (after, stack) => load(after, stack).catch((e) => setText('job-msg', e.message));
    $(pfx + '-next').addEventListener('click', () => {
      const p = pos();
      if (p.next !== null) go(p.next, p.stack.concat([p.after]));
    });
    $(pfx + '-prev').addEventListener('click', () => {
      const p = pos();
      if (p.stack.length) go(p.stack[p.stack.length - 1], p.stack.slice(0, -1));
    });
    $(pfx + '-first').addEventListener('click', () => go(0, []));
  }
  wirePager('fail', loadFailures, () => failPg);
  wirePager('res', loadResults, () => resPg);

  async function jobAction(what) {
    setText('job-msg', '');
    $('job-cancel').disabled = true;
    $('job-retry').disabled = true;
    try {
      const doc = await api('POST', jobUrl('/' + what));
      job = doc.job;
      failSeen = '';
      failPg.stack = [];
      if (resPg.stack.length === 0) resRows = 0; // page 1 read again
      renderJob();
      await refreshJob();
    } catch (e) {
      if (!(e instanceof AuthError)) setText('job-msg', e.message);
      setActions();
    }
  }

  // Cancel takes two clicks: the first arms it ("Confirm cancel") for
  // ARM_MS, the second cancels.
  function disarm() {
    if (armTimer !== null) clearTimeout(armTimer);
    armTimer = null;
    $('job-cancel').textContent = 'Cancel';
    $('job-cancel').classList.remove('armed');
  }
  $('job-cancel').addEventListener('click', () => {
    if (armTimer === null) {
      $('job-cancel').textContent = 'Confirm cancel';
      $('job-cancel').classList.add('armed');
      armTimer = setTimeout(disarm, ARM_MS);
      return;
    }
    disarm();
    jobAction('cancel');
  });
  $('job-retry').addEventListener('click', () => jobAction('retry'));

  Object.assign(ui, {showJob, jobTick, requested});
})();
