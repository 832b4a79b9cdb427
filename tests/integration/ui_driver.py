"""ui_driver.py - the dashboard's scenarios in a real headless Chromium
(issue #20), driven through cdp.py. Run by tests/integration/ui.sh:

  ui_driver.py DIR main FO UP ROOT [SHOTS]  submit, watch, fail, retry
                                            (current failures only),
                                            downloads, all jobs, an
                                            unknown job, cancel, submit
                                            checks, 400 px; hostile text
                                            stays inert
  ui_driver.py DIR auth FO UP TOKEN TMP     the token prompt, a file
  ui_driver.py DIR reconnect FO SIGNAL      the stream drops, comes back
  ui_driver.py DIR layout FO UP             long URLs wrap, all results
                                            paged, cancelled bars grey,
                                            blank names
  ui_driver.py DIR tabs FO                  eight tabs, each live
  ui_driver.py DIR load FO BIGJOB           100 jobs + 1,000,000 items

DIR is Chromium's user-data-dir (its DevToolsActivePort names the
DevTools port). Prints "ok - NAME" per check and
"FAIL: NAME: why" for a failed one; the exit status is the number of
failures (a scenario that cannot go on stops there).
"""

import json
import os
import shutil
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

failures = 0


def check(name, ok, why=""):
    global failures
    if ok:
        print("ok - " + name, flush=True)
    else:
        failures += 1
        print("FAIL: %s%s" % (name, ": " + why if why else ""), flush=True)


def js(s):
    return json.dumps(s)


def post_job(fo, urls, query=""):
    """A job made through the API, as any caller would: its ID."""
    req = urllib.request.Request(
        fo + "/v1/jobs" + query, data=("\n".join(urls) + "\n").encode(),
        headers={"Content-Type": "text/plain"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["job"]["id"]


def open_job(p, fo, urls, query):
    """A job made through the API, its page opened: its ID."""
    job = post_job(fo, urls, query)
    p.navigate(fo + "/ui#/jobs/" + job)
    return job


def slow_click(p, element, hold):
    """Press on the element (a JavaScript expression), hold, release."""
    x, y = p.eval("(() => { const e = %s; e.scrollIntoView({block: 'center'});"
                  " const r = e.getBoundingClientRect();"
                  " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
                  % element)
    p.call("Input.dispatchMouseEvent", type="mousePressed", x=x, y=y,
           button="left", clickCount=1)
    time.sleep(hold)
    p.call("Input.dispatchMouseEvent", type="mouseReleased", x=x, y=y,
           button="left", clickCount=1)


def rows(p, selector):
    """The text of each row matched, cells joined by |."""
    return p.eval("Array.from(document.querySelectorAll(%s)).map(r => "
                  "Array.from(r.cells).map(c => c.textContent).join('|'))"
                  % js(selector))


def dom_nodes(p):
    return p.eval("document.getElementsByTagName('*').length")


def inert(p):
    """No payload ran: the flag is unset, no <img> or inline script
    was made from upstream text."""
    return p.eval(
        "window.__pwned === undefined && "
        "document.querySelectorAll('main img').length === 0 && "
        "document.querySelectorAll('script:not([src])').length === 0")


def scenario_main(p, fo, up, root, shots):
    p.navigate(fo + "/ui")
    p.wait("document.getElementById('conn').textContent === 'live'", 10,
           "the live stream")
    check("the overview loads and the stream is live",
          p.visible("#view-overview"))

    p.click("#nav-submit")
    p.wait("location.hash === '#/submit'", 5)
    hostile_url = up + "/status/404?q=<img/src=x/onerror=window.__pwned=3>"
    urls = [up + "/delay/%d" % (600 + 100 * i) for i in range(8)]
    urls += [up + "/files/evil.html", hostile_url, up + "/files/later.txt",
             up + "/status/500"]
    p.type("#sub-urls", "\n".join(urls) + "\n")
    p.type("#sub-concurrency", "2")
    p.type("#sub-retries", "0")
    p.click("#sub-x-title")
    if shots:
        p.screenshot(os.path.join(shots, "ui-submit.png"))
    p.click("#sub-go")
    p.wait("location.hash.startsWith('#/jobs/')", 10, "the job's page")
    job = p.eval("decodeURIComponent(location.hash.slice(7))")
    check("submitting creates a job and opens its page",
          len(job) == 32, job)

    # The overview while the job runs: its row, a bar below 100%.
    p.click("#nav-overview")
    row = ("Array.from(document.querySelectorAll('#jobs-body a'))"
           ".find(a => a.getAttribute('href') === %s)" % js("#/jobs/" + job))
    p.wait("!!" + row, 10, "the job in the overview")
    check("the overview lists the running job with a progress bar",
          p.eval("!!%s.closest('tr').querySelector('.progress')" % row))
    if shots:
        p.wait("document.getElementById('hosts-body').textContent"
               ".includes('127.0.0.1')", 5, "a busy host")
        p.screenshot(os.path.join(shots, "ui-overview.png"))
    p.eval("%s.click()" % row)  # a link: no input needed
    p.wait("location.hash === %s" % js("#/jobs/" + job), 5)

    p.wait("document.getElementById('job-pct').textContent === '100%' && "
           "document.getElementById('job-state').textContent === 'done'",
           30, "the job to reach 100%")
    check("the progress bar reaches 100%",
          p.eval("parseFloat(document.getElementById('job-bar-ok').style"
                 ".width) + parseFloat(document.getElementById("
                 "'job-bar-failed').style.width) > 99.9"))
    check("the counts: 9 ok, 3 failed",
          [p.text("#job-ok"), p.text("#job-failed")] == ["9", "3"],
          str([p.text("#job-ok"), p.text("#job-failed")]))
    groups = "document.getElementById('fail-groups').textContent"
    p.wait("%s.includes('HTTP 500') && %s.includes('HTTP 404')"
           % (groups, groups), 10, "the failures")
    text = p.eval(groups)
    check("failures are grouped by error type with their URL",
          "HTTP 500" in text and "HTTP 404" in text and
          "invalid_request" in text and up + "/status/500" in text, text)
    check("a failure shows its message",
          "invalid character in URL" in text, text)
    check("the hostile URL shows as text, literally", hostile_url in text)
    p.wait("document.getElementById('recent-body').textContent"
           ".includes('<img src=x')", 10, "the latest results")
    check("the hostile title shows as text, literally",
          "<img src=x onerror=window.__pwned=1>" in p.text("#recent-body"))
    check("no payload ran (no flag, no <img>, no inline script)", inert(p))
    check("results and bodies are links to the API",
          p.eval("document.getElementById('job-results')"
                 ".getAttribute('href')") ==
          "/v1/jobs/%s/results" % job and
          p.eval("!!document.querySelector('#fail-groups a[href$=\"/body\"]')"))
    if shots:
        p.screenshot(os.path.join(shots, "ui-job.png"))

    # Retry: the missing file is there now, so one failure turns ok.
    with open(os.path.join(root, "later.txt"), "w") as f:
        f.write("here now\n")
    p.click("#job-retry")
    p.wait("document.getElementById('job-ok').textContent === '10' && "
           "document.getElementById('job-state').textContent === 'done'",
           20, "the retried job's counts")
    check("retry: the counts change (10 ok, 2 failed)",
          [p.text("#job-ok"), p.text("#job-failed")] == ["10", "2"],
          str([p.text("#job-ok"), p.text("#job-failed")]))
    check("no payload ran after the retry either", inert(p))
    # Only the failures that stand: later.txt is ok now, its old 404
    # line is not listed, nor is any item twice.
    p.wait("document.querySelectorAll('#fail-groups tbody tr').length "
           "=== 2", 10, "two failures listed")
    fails = rows(p, "#fail-groups tbody tr")
    check("after the retry, the failures list only the 2 that stand",
          len(fails) == 2 and not any("later.txt" in r for r in fails),
          str(fails))
    recent = [r.split("|")[0] for r in rows(p, "#recent-body tr")]
    check("the latest results show each item once (its current line)",
          len(recent) == len(set(recent)) and len(recent) == 10,
          str(recent))
    check("an ok line in the latest results has its body link",
          p.eval("Array.from(document.querySelectorAll('#recent-body tr'))"
                 ".some(r => r.cells[1].textContent === 'ok' && "
                 "r.querySelector('a[href$=\"/body\"]'))"))

    # Downloads go through fetch() and a blob with a file name; the tab
    # stays where it is.
    dl = os.path.join(os.path.dirname(root), "downloads")
    os.makedirs(dl, exist_ok=True)
    p.call("Page.setDownloadBehavior", behavior="allow", downloadPath=dl)
    here = p.eval("location.href")
    p.click("#job-results")
    want = os.path.join(dl, "job-%s.ndjson" % job)
    deadline = time.monotonic() + 15
    while not os.path.exists(want) and time.monotonic() < deadline:
        time.sleep(0.2)
    check("Results (NDJSON) downloads job-ID.ndjson without leaving the "
          "page", os.path.exists(want) and p.eval("location.href") == here,
          str(os.listdir(dl)))
    p.eval("Array.from(document.querySelectorAll('#recent-body tr'))"
           ".find(r => r.cells[2].textContent.endsWith('/later.txt'))"
           ".querySelector('a').click()")
    idx = p.eval("Array.from(document.querySelectorAll('#recent-body tr'))"
                 ".find(r => r.cells[2].textContent.endsWith('/later.txt'))"
                 ".cells[0].textContent")
    want = os.path.join(dl, "job-%s-item-%s.txt" % (job, idx))
    deadline = time.monotonic() + 15
    while not os.path.exists(want) and time.monotonic() < deadline:
        time.sleep(0.2)
    check("a body downloads as job-ID-item-N.txt (its type's extension)",
          os.path.exists(want) and p.eval("location.href") == here,
          str(os.listdir(dl)))

    # Every stored job is listed in the overview, finished ones too.
    p.click("#nav-overview")
    p.wait("Array.from(document.querySelectorAll('#all-body tr')).some("
           "r => r.querySelector('a') && r.querySelector('a')"
           ".getAttribute('href') === %s && r.cells[1].textContent === "
           "'done')" % js("#/jobs/" + job), 10, "the done job listed")
    check("the overview lists finished jobs, linked to their page", True)

    # An unknown job: said so, nothing to press.
    p.navigate(fo + "/ui#/jobs/" + "0" * 32)
    p.wait("document.getElementById('job-state').textContent"
           ".startsWith('no such job')", 10, "no such job")
    # (the browser logs the 404 it got: expected here)
    p.problems = [x for x in p.problems if "status of 404" not in x]
    check("an unknown job says so, with Cancel and Retry off",
          p.eval("document.getElementById('job-cancel').disabled && "
                 "document.getElementById('job-retry').disabled && "
                 "document.getElementById('fail-next').disabled"))

    # The repro of the bug: item 0 fails once, then is ok. After a
    # retry from the page no failure stands, and the latest results show
    # each item once, ok, with the body of its current line.
    fl = post_job(fo, [up + "/flaky/ui-%d?fail=1" % os.getpid(),
                       up + "/status/200"], "?retries=0")
    p.navigate(fo + "/ui#/jobs/" + fl)
    p.wait("document.getElementById('job-state').textContent === 'done' "
           "&& document.querySelectorAll('#fail-groups tbody tr').length "
           "=== 1", 15, "the flaky job's failure")
    p.click("#job-retry")
    p.wait("document.getElementById('job-ok').textContent === '2' && "
           "document.getElementById('job-state').textContent === 'done'",
           15, "the retried flaky job")
    p.wait("document.getElementById('fail-groups').textContent"
           ".includes('No failed item')", 10, "no failure listed")
    p.wait("document.querySelectorAll('#recent-body tr').length === 2 && "
           "Array.from(document.querySelectorAll('#recent-body tr'))"
           ".some(r => r.cells[0].textContent === '0' && "
           "r.cells[1].textContent === 'ok')", 10,
           "item 0 ok in the latest results")
    recent = rows(p, "#recent-body tr")
    check("after a retry that mended it, no failure is listed and the "
          "latest results show each item once, ok",
          sorted(r.split("|")[:2] for r in recent) == [["0", "ok"],
                                                       ["1", "ok"]],
          str(recent))

    # Cancel takes two clicks; the page then follows the job until its
    # item in flight has ended too.
    slow = post_job(fo, [up + "/delay/3000"] + [up + "/delay/3000?n=%d" % i
                                                 for i in range(20)],
                    "?concurrency=1")
    p.navigate(fo + "/ui#/jobs/" + slow)
    p.wait("document.getElementById('job-state').textContent === "
           "'running' && document.getElementById('job-inflight')"
           ".textContent === '1'", 15, "the slow job running")
    p.click("#job-cancel")
    time.sleep(0.3)  # a click that would cancel at once would have by now
    check("a first click on Cancel only arms it",
          p.text("#job-cancel") == "Confirm cancel" and
          p.text("#job-state") == "running", p.text("#job-state"))
    p.click("#job-cancel")
    p.wait("document.getElementById('job-state').textContent"
           ".startsWith('cancelled')", 10, "the job cancelled")
    p.wait("document.getElementById('job-inflight').textContent === '0' "
           "&& document.getElementById('job-pending').textContent === '0'",
           15, "the page to follow the cancelled job until it settles")
    check("after Cancel, the page updates until the job settles",
          p.text("#job-failed") == "21", p.text("#job-failed"))
    p.wait("document.getElementById('fail-groups').textContent"
           ".includes('cancelled')", 10, "the cancelled group")
    check("cancelled items are named as such, not as failures",
          p.text("#job-failed-k") == "failed or cancelled" and
          p.eval("!!document.querySelector('#fail-groups .group.cancelled')"
                 " && !!document.querySelector('#job-bar.cancelled')"))

    # Submit: both a file and pasted URLs are refused; a name and a
    # capped value are shown on the job's page.
    p.navigate(fo + "/ui#/submit")
    p.wait("!document.getElementById('view-submit').hidden", 10)
    urls = os.path.join(os.path.dirname(root), "both.txt")
    with open(urls, "w") as f:
        f.write(up + "/status/200\n")
    p.set_files("#sub-file", [urls])
    p.type("#sub-urls", up + "/status/201\n")
    p.click("#sub-go")
    p.wait("document.getElementById('sub-error').textContent !== ''", 5)
    check("pasted URLs and a file together are refused, saying why",
          "Both pasted URLs and a file" in p.text("#sub-error") and
          p.eval("location.hash") == "#/submit", p.text("#sub-error"))
    p.eval("document.getElementById('sub-urls').value = ''; "
           "document.getElementById('sub-concurrency').value = ''")
    p.type("#sub-name", "nightly <b>crawl</b>")
    p.type("#sub-concurrency", "5000")
    p.click("#sub-go")
    p.wait("location.hash.startsWith('#/jobs/')", 10, "the named job")
    p.wait("document.getElementById('job-capped').textContent !== ''", 10,
           "the capped note")
    check("the job's name is shown (as text)",
          p.text("#job-name") == "nightly <b>crawl</b>", p.text("#job-name"))
    check("a value the server capped is shown against the one asked",
          "concurrency: asked 5000, the server set" in p.text("#job-capped"),
          p.text("#job-capped"))
    p.wait("document.getElementById('job-total').textContent === '1'", 10)
    check("the file was the list (1 item)", True)

    # At 400 px wide nothing pushes the page sideways: wide tables
    # scroll in their own box.
    p.call("Emulation.setDeviceMetricsOverride", width=400, height=800,
           deviceScaleFactor=1, mobile=False)
    for where in ("#/jobs/" + job, "#/"):
        p.navigate(fo + "/ui" + where)
        p.wait("document.getElementById('conn').textContent === 'live'", 10)
        p.wait("document.querySelectorAll('#recent-body tr, #all-body a')"
               ".length > 0", 10, "rows at 400 px")
        w = p.eval("document.documentElement.scrollWidth")
        check("at 400 px wide, %s fits (%d px)" % (where, w), w <= 400,
              str(w))
    p.call("Emulation.setDeviceMetricsOverride", width=1280, height=900,
           deviceScaleFactor=1, mobile=False)

    check("no script error and no CSP violation", not p.problems,
          "; ".join(p.problems))


def post_named(fo, name, urls):
    """A job with a name, made through the API: its ID."""
    req = urllib.request.Request(
        fo + "/v1/jobs?retries=0", data=json.dumps(
            {"requests": urls, "job": {"name": name}}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=30) as r:
        return json.load(r)["job"]["id"]


def scenario_layout(p, fo, up):
    """Long URLs wrap, every item's result and body can be reached,
    cancelled jobs are grey in the lists, a blank name still gives a
    link to click."""
    long_url = up + "/status/404?q=" + "x" * 300
    job = post_job(fo, [long_url, up + "/status/200"], "?retries=0")
    p.navigate(fo + "/ui#/jobs/" + job)
    p.wait("document.querySelectorAll('#fail-groups tbody tr').length === 1"
           " && document.querySelectorAll('#recent-body tr').length === 2",
           15, "the long URL's failure and results")
    sideways = ("Array.from(document.querySelectorAll('#view-job .scroll'))"
                ".filter(e => e.scrollWidth > e.clientWidth + 1).length")
    check("a 300-character URL wraps: no table of the job's page scrolls "
          "sideways at 1280 px", p.eval(sideways) == 0, str(p.eval(sideways)))
    check("... and the failure's message is in view",
          p.eval("document.querySelector('#fail-groups td.msg')"
                 ".getBoundingClientRect().right <= innerWidth"))
    p.call("Emulation.setDeviceMetricsOverride", width=400, height=800,
           deviceScaleFactor=1, mobile=False)
    check("at 400 px too: the failure's message is in view",
          p.eval("document.querySelector('#fail-groups td.msg')"
                 ".getBoundingClientRect().right <= innerWidth"))
    p.call("Emulation.setDeviceMetricsOverride", width=1280, height=900,
           deviceScaleFactor=1, mobile=False)

    # Every item's body is reachable: All results, 50 a page.
    open_job(p, fo, [up + "/status/200?i=%d" % i for i in range(60)],
             "?retries=0")
    p.wait("document.getElementById('job-state').textContent === 'done' && "
           "document.querySelectorAll('#res-body tr').length === 50", 15,
           "a page of 50 results")
    first = rows(p, "#res-body tr")
    check("All results: the first 50 items, each with its body link",
          p.text("#res-pos") == "page 1: 1-50" and
          p.eval("Array.from(document.querySelectorAll('#res-body tr'))"
                 ".every(r => r.querySelector('a[href$=\"/body\"]'))"),
          p.text("#res-pos"))
    p.click("#res-next")
    p.wait("document.getElementById('res-pos').textContent === "
           "'page 2: 51-60'", 10, "the second page of results")
    second = rows(p, "#res-body tr")
    items = sorted(int(r.split("|")[0]) for r in first + second)
    check("... and Next page the other 10: every item once",
          items == list(range(60)), str(items))
    p.click("#res-first")
    p.wait("document.getElementById('res-pos').textContent === "
           "'page 1: 1-50'", 10, "the first page of results again")

    # A job that waits (here for its rate) says so.
    slow = open_job(p, fo, [up + "/status/200?w=%d" % i for i in range(3)],
                    "?rate=0.1&concurrency=1")
    p.wait("document.getElementById('job-wait').textContent"
           ".startsWith('Nothing in flight: 2 queued')", 10,
           "the waiting job's note")
    check("a job with nothing in flight says what it waits for", True)
    urllib.request.urlopen(urllib.request.Request(
        fo + "/v1/jobs/%s/cancel" % slow, method="POST"), timeout=10).close()

    # All jobs follows a running job with each snapshot, as Jobs does.
    run = post_job(fo, [up + "/delay/700?r=%d" % i for i in range(16)],
                   "?concurrency=1")
    p.navigate(fo + "/ui")
    done = ("(() => { const f = (b) => { const a = Array.from("
            "document.querySelectorAll(b + ' a')).find(a => "
            "a.getAttribute('href') === %s); return a ? "
            "a.closest('tr').cells[3].textContent.split(' / ')[0] : null; };"
            " return [f('#jobs-body'), f('#all-body')]; })()"
            % js("#/jobs/" + run))
    p.wait("(d => d[0] !== null && +d[0] >= 2 && +d[0] < 16)(%s)" % done, 15,
           "the running job at 2 done or more")
    both = p.eval(done)
    check("All jobs shows a running job's counts as Jobs does",
          both[0] == both[1], str(both))
    # A click held over a snapshot (each redraws the lists) still opens
    # the job: the link is not replaced under the pointer.
    for table in ("#jobs-body", "#all-body"):
        p.navigate(fo + "/ui")
        link = ("Array.from(document.querySelectorAll('%s a')).find(a => "
                "a.getAttribute('href') === %s)" % (table, js("#/jobs/" + run)))
        p.wait("!!" + link, 10, "the running job in " + table)
        slow_click(p, link, 1.5)
        check("a click held 1.5 s on a job in %s opens it" % table,
              p.eval("location.hash") == "#/jobs/" + run, p.eval("location.hash"))

    # On a running job's page, a body link held 1.5 s (its list would
    # be redrawn meanwhile) still downloads.
    dl = tempfile.mkdtemp(prefix="ui-dl-")
    p.call("Page.setDownloadBehavior", behavior="allow", downloadPath=dl)
    busy = open_job(p, fo, [up + "/delay/200?b=%d" % i for i in range(40)],
                    "?concurrency=2")
    p.wait("document.querySelectorAll('#recent-body a').length >= 3", 10,
           "the running job's latest results")
    idx = p.eval("document.querySelector('#recent-body tr:nth-child(3)')"
                 ".cells[0].textContent")
    slow_click(p, "document.querySelector('#recent-body tr:nth-child(3) a')",
               1.5)
    want = os.path.join(dl, "job-%s-item-%s.txt" % (busy, idx))
    deadline = time.monotonic() + 10
    while not os.path.exists(want) and time.monotonic() < deadline:
        time.sleep(0.1)
    check("a body link held 1.5 s on a running job's page downloads",
          os.path.exists(want), str(os.listdir(dl)))
    p.wait("document.querySelector('#recent-body tr').cells[0].textContent"
           " !== %s" % js(idx), 10, "the latest results read again")
    try:
        urllib.request.urlopen(urllib.request.Request(
            fo + "/v1/jobs/%s/cancel" % busy, method="POST"),
            timeout=10).close()
    except urllib.error.HTTPError:
        pass  # 409: it has ended meanwhile
    shutil.rmtree(dl, ignore_errors=True)

    # A cancelled job: grey in All jobs as on its page, not all red.
    slow = post_job(fo, [up + "/delay/5000?c=%d" % i for i in range(4)],
                    "?concurrency=1")
    req = urllib.request.Request(fo + "/v1/jobs/%s/cancel" % slow,
                                 method="POST")
    urllib.request.urlopen(req, timeout=10).close()
    blank = post_named(fo, "   ", [up + "/status/200"])
    p.navigate(fo + "/ui")
    row = ("Array.from(document.querySelectorAll('#all-body tr')).find(r => "
           "r.querySelector('a') && r.querySelector('a').getAttribute('href')"
           " === %s)")
    p.wait("!!" + row % js("#/jobs/" + slow) + " && !!" +
           row % js("#/jobs/" + blank), 10, "both jobs in All jobs")
    check("a cancelled job's bar in All jobs is drawn as cancelled (grey)",
          p.eval("!!(%s).querySelector('.progress.cancelled')"
                 % (row % js("#/jobs/" + slow))))
    label = p.eval("(%s).querySelector('a').textContent"
                   % (row % js("#/jobs/" + blank)))
    check("a job named with blanks only is linked by its ID",
          label == blank[:12], repr(label))
    check("no script error and no CSP violation", not p.problems,
          "; ".join(p.problems))


def scenario_tabs(p, fo):
    """Seven tabs on one fanoutd, each opened in turn (the one before
    goes to the background): every one goes live, as a browser allows
    six connections per host only if hidden tabs let their stream go."""
    p.navigate(fo + "/ui")
    p.wait("document.getElementById('conn').textContent === 'live'", 10,
           "the first tab live")
    tabs = []
    try:
        for i in range(7):
            t = cdp.Page(p.port)
            tabs.append(t)
            t.navigate(fo + "/ui")
            t.wait("document.getElementById('conn').textContent === 'live'",
                   10, "tab %d live" % (i + 2))
        check("eight tabs opened one after the other each go live", True)
        check("a tab in the background says it is paused",
              p.text("#conn") == "paused (tab hidden)", p.text("#conn"))
        tabs[-1].navigate(fo + "/ui#/submit")
        tabs[-1].wait("!document.getElementById('view-submit').hidden", 5)
        tabs[-1].type("#sub-urls", "http://127.0.0.1:1/x\n")
        tabs[-1].click("#sub-go")
        tabs[-1].wait("location.hash.startsWith('#/jobs/') || "
                      "document.getElementById('sub-error').textContent",
                      10, "the eighth tab's submit answered")
        check("... and the last one can submit a job",
              tabs[-1].eval("location.hash").startswith("#/jobs/"),
              tabs[-1].text("#sub-error"))
    finally:
        for t in tabs:
            t.close()
    urllib.request.urlopen("http://127.0.0.1:%d/json/activate/%s" % (
        p.port, p.target), timeout=5).close()
    p.wait("document.getElementById('conn').textContent === 'live'", 10,
           "the first tab live again")
    check("shown again, the first tab reads the stream again", True)


def scenario_auth(p, fo, up, token, tmp):
    p.navigate(fo + "/ui")
    p.wait("!document.getElementById('view-login').hidden", 10,
           "the token prompt")
    check("without a token the page asks for one",
          p.visible("#login-token") and p.text("#conn") == "token required")
    p.type("#login-token", "wrong-token")
    p.click("#login-form button")
    p.wait("document.getElementById('login-error').textContent"
           ".includes('refused')", 10, "the refusal")
    check("a wrong token is refused", p.visible("#view-login"))
    p.type("#login-token", token)
    p.click("#login-form button")
    p.wait("document.getElementById('conn').textContent === 'live'", 10,
           "the live stream with the token")
    check("the right token opens the overview, live",
          p.visible("#view-overview"))
    check("the token is kept in the tab's session storage, not a cookie",
          p.eval("sessionStorage.getItem('fanoutd.token')") == token and
          p.eval("document.cookie") == "")
    p.navigate(fo + "/ui#/submit")
    p.wait("document.getElementById('conn').textContent === 'live'", 10)
    check("a reload does not ask again", p.visible("#view-submit"))
    urls = os.path.join(tmp, "urls.txt")
    with open(urls, "w") as f:
        f.write("%s/text/5\n# a comment\n%s/status/404\n" % (up, up))
    p.set_files("#sub-file", [urls])
    p.click("#sub-go")
    p.wait("location.hash.startsWith('#/jobs/')", 10, "the job's page")
    p.wait("document.getElementById('job-state').textContent === 'done'",
           15, "the job to end")
    check("a file of URLs makes a job, and API calls carry the token",
          [p.text("#job-total"), p.text("#job-ok"), p.text("#job-failed")]
          == ["2", "1", "1"],
          str([p.text("#job-total"), p.text("#job-ok"),
               p.text("#job-failed")]))
    problems = [x for x in p.problems if "401 (Unauthorized)" not in x]
    check("no script error and no CSP violation (but the 401s)",
          not problems, "; ".join(problems))


def scenario_reconnect(p, fo, signal):
    """The shell stops fanoutd once SIGNAL.live exists and starts it
    again on the same port once SIGNAL.down exists."""
    p.navigate(fo + "/ui")
    p.wait("document.getElementById('conn').textContent === 'live'", 10,
           "the live stream")
    open(signal + ".live", "w").close()
    p.wait("document.getElementById('conn').textContent"
           ".startsWith('disconnected; reconnecting')", 20,
           "the page to say the stream dropped")
    check("when the stream drops, the page says so",
          p.eval("document.getElementById('conn').className") == "conn off")
    # The third wait is 4 s: it counts down a second at a time.
    p.wait("document.getElementById('conn').textContent.endsWith('in 3 s')",
           30, "the countdown at 3 s")
    p.wait("document.getElementById('conn').textContent.endsWith('in 2 s')",
           3, "the countdown at 2 s")
    check("the reconnect countdown counts down each second", True)
    open(signal + ".down", "w").close()
    p.wait("document.getElementById('conn').textContent === 'live'", 30,
           "the page to reconnect")
    check("... and reconnects on its own once fanoutd is back",
          p.visible("#view-overview"))
    problems = [x for x in p.problems if "net::ERR_" not in x]
    check("no script error and no CSP violation (but the refused "
          "connections)", not problems, "; ".join(problems))


def scenario_load(p, fo, big):
    p.navigate(fo + "/ui")
    p.wait("document.getElementById('jobs-count').textContent === '(101)'",
           15, "101 active jobs in the overview")
    n = dom_nodes(p)
    check("the overview of 101 active jobs stays small (%d elements)" % n,
          n < 3000, str(n))
    top = p.eval("document.getElementById('hosts-body').getBoundingClientRect()"
                 ".top + scrollY")
    check("it lists the first 20 (the hosts in sight, at %d px)" % top,
          len(rows(p, "#jobs-body tr")) == 20 and top < 2400, str(top))
    p.click("#jobs-all")
    p.wait("document.querySelectorAll('#jobs-body tr').length === 101", 5,
           "all 101 jobs listed")
    check("... and all 101 when asked", p.text("#jobs-all") ==
          "Show the first 20", p.text("#jobs-all"))
    p.click("#jobs-all")
    p.wait("document.querySelectorAll('#jobs-body tr').length === 20", 5,
           "the first 20 again")
    t0 = time.monotonic()
    p.click("#nav-submit")
    p.wait("!document.getElementById('view-submit').hidden", 5)
    dt = time.monotonic() - t0
    check("the page answers a click at once (%.0f ms)" % (dt * 1000),
          dt < 2, str(dt))
    p.navigate(fo + "/ui#/jobs/" + big)
    p.wait("document.getElementById('job-total').textContent === "
           "'1,000,000'", 15, "the big job's page")
    p.wait("document.querySelectorAll('#fail-groups tbody tr').length "
           "=== 50", 20, "a page of 50 failures")
    n = dom_nodes(p)
    check("a 1,000,000-item job's page holds one page of failures "
          "(%d elements)" % n, n < 3000, str(n))
    first = p.eval("document.querySelector('#fail-groups tbody td')"
                   ".textContent")
    p.click("#fail-next")
    p.wait("document.querySelector('#fail-groups tbody td').textContent "
           "!== %s" % js(first), 10, "the next page")
    check("the next page of failures replaces the first",
          p.eval("document.querySelectorAll('#fail-groups tbody tr')"
                 ".length") == 50)
    check("... with Previous and the page's position",
          p.text("#fail-pos").startswith("page 2: 51-100 of") and
          not p.eval("document.getElementById('fail-prev').disabled"),
          p.text("#fail-pos"))
    # The job goes on failing: the count follows it on page 2 too.
    seen = p.text("#fail-count")
    p.wait("document.getElementById('fail-count').textContent !== %s"
           % js(seen), 10, "the failures' count to follow the job on page 2")
    check("on page 2 the failures' count follows the job", True)
    p.click("#fail-prev")
    p.wait("document.getElementById('fail-pos').textContent"
           ".startsWith('page 1: 1-50 of')", 10, "the first page again")
    check("Previous goes back to the first page",
          p.eval("document.querySelector('#fail-groups tbody td')"
                 ".textContent") == first)
    # Cancel the big job from the page: its pending items end with
    # cancelled lines over some time, and the page follows the counts
    # down to 0 (the job no longer in the stats stream meanwhile).
    p.click("#job-cancel")
    p.click("#job-cancel")
    p.wait("document.getElementById('job-state').textContent"
           ".startsWith('cancelled')", 15, "the big job cancelled")
    p.wait("document.getElementById('job-pending').textContent === '0' && "
           "document.getElementById('job-inflight').textContent === '0'",
           90, "the page to follow the big job until it settles")
    check("after Cancel the page follows a 1,000,000-item job until "
          "nothing is pending", p.text("#job-state") == "cancelled",
          p.text("#job-state"))
    check("no script error and no CSP violation", not p.problems,
          "; ".join(p.problems))


def main():
    name, args = sys.argv[2], sys.argv[3:]
    p = cdp.Page(cdp.devtools_port(sys.argv[1]))
    try:
        if name == "main":
            scenario_main(p, args[0], args[1], args[2],
                          args[3] if len(args) > 3 else None)
        elif name == "layout":
            scenario_layout(p, args[0], args[1])
        elif name == "tabs":
            scenario_tabs(p, args[0])
        elif name == "auth":
            scenario_auth(p, args[0], args[1], args[2], args[3])
        elif name == "reconnect":
            scenario_reconnect(p, args[0], args[1])
        elif name == "load":
            scenario_load(p, args[0], args[1])
        else:
            raise SystemExit("unknown scenario " + name)
    except cdp.CDPError as e:
        check("scenario %s" % name, False, "%s (page problems: %s; view: %s)"
              % (e, p.problems, p.eval("location.hash")))
        if os.environ.get("UI_FAILSHOT"):
            p.screenshot(os.environ["UI_FAILSHOT"])
    finally:
        p.close()
    sys.exit(min(failures, 100))


if __name__ == "__main__":
    main()
