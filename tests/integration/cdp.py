"""cdp.py - a small Chrome DevTools Protocol client for the dashboard's
browser tests (tests/integration/ui.sh, script/screenshots).

It drives an already running headless Chromium (the shell starts it
with --remote-debugging-port=0 and kills it in its trap) over one
WebSocket to one page: navigate, evaluate JavaScript, wait for a
condition with a deadline, click and type with real input events,
choose a file, take a screenshot. Debian's python3-websocket
(websocket-client) is the only dependency.
"""

import base64
import json
import os
import time
import urllib.request

import websocket


class CDPError(Exception):
    pass


def devtools_port(user_data_dir, timeout=20.0):
    """The port Chromium chose: the first line of DevToolsActivePort,
    which it writes once it listens (waited for, up to timeout)."""
    path = os.path.join(user_data_dir, "DevToolsActivePort")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                lines = f.read().split("\n")
            if len(lines) >= 2 and lines[0].strip().isdigit():
                return int(lines[0])
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise CDPError("Chromium wrote no DevToolsActivePort in %.0f s" % timeout)


class Page:
    """One browser tab."""

    def __init__(self, port, timeout=10.0):
        req = urllib.request.Request(
            "http://127.0.0.1:%d/json/new?about:blank" % port, method="PUT")
        with urllib.request.urlopen(req, timeout=timeout) as r:
            target = json.load(r)
        self.port = port
        self.target = target["id"]
        self.ws = websocket.create_connection(
            target["webSocketDebuggerUrl"], timeout=timeout,
            suppress_origin=True)
        self.next_id = 0
        self.events = []      # every event received, in order
        self.problems = []    # exceptions, console errors, CSP reports
        self.call("Page.enable")
        self.call("Runtime.enable")
        self.call("Log.enable")
        self.call("Emulation.setDeviceMetricsOverride", width=1280,
                  height=900, deviceScaleFactor=1, mobile=False)

    def close(self):
        """Close the tab (its connections with it: Chromium allows six
        per host, and each open dashboard holds its stream)."""
        self.ws.close()
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/json/close/%s" % (
                self.port, self.target), timeout=5).close()
        except OSError:
            pass

    def _event(self, msg):
        self.events.append(msg)
        m, p = msg.get("method"), msg.get("params", {})
        if m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.problems.append("exception: %s" % (
                d.get("exception", {}).get("description") or d.get("text")))
        elif m == "Log.entryAdded":
            e = p.get("entry", {})
            if e.get("level") == "error" and "/favicon" not in e.get("url", ""):
                self.problems.append("%s: %s" % (e.get("source"), e.get("text")))
        elif m == "Runtime.consoleAPICalled" and p.get("type") == "error":
            self.problems.append("console.error: %s" % json.dumps(p.get("args")))

    def call(self, method, timeout=10.0, **params):
        """Send one command; its result (events meanwhile are kept)."""
        self.next_id += 1
        mid = self.next_id
        self.ws.send(json.dumps({"id": mid, "method": method,
                                 "params": params}))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise CDPError("%s: no answer in %.0f s" % (method, timeout))
            self.ws.settimeout(left)
            msg = json.loads(self.ws.recv())
            if msg.get("id") == mid:
                if "error" in msg:
                    raise CDPError("%s: %s" % (method, msg["error"]))
                return msg.get("result", {})
            if "method" in msg:
                self._event(msg)

    def eval(self, expr, timeout=10.0):
        """The value of a JavaScript expression (promises awaited)."""
        r = self.call("Runtime.evaluate", timeout=timeout, expression=expr,
                      awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise CDPError("%s: %s" % (expr, r["exceptionDetails"].get(
                "exception", {}).get("description", r["exceptionDetails"])))
        return r.get("result", {}).get("value")

    def wait(self, expr, timeout=15.0, what=None):
        """Wait until expr is truthy (checked every 50 ms); its value.
        Raises with `what` when the deadline passes."""
        deadline = time.monotonic() + timeout
        while True:
            v = self.eval(expr)
            if v:
                return v
            if time.monotonic() >= deadline:
                raise CDPError("timed out after %.0f s waiting for %s" % (
                    timeout, what or expr))
            time.sleep(0.05)

    def navigate(self, url, timeout=15.0):
        self.call("Page.navigate", url=url)
        self.wait("document.readyState === 'complete' && "
                  "location.href === %s" % json.dumps(url), timeout,
                  "%s to load" % url)

    def text(self, selector):
        return self.eval("(document.querySelector(%s) || {}).textContent"
                         % json.dumps(selector))

    def visible(self, selector):
        return self.eval(
            "(() => { const e = document.querySelector(%s);"
            " return !!e && e.offsetParent !== null; })()"
            % json.dumps(selector))

    def click(self, selector, timeout=10.0):
        """A real mouse click at the element's centre."""
        js = ("(() => { const e = document.querySelector(%s);"
              " if (!e || e.offsetParent === null || e.disabled) return null;"
              " e.scrollIntoView({block: 'center'});"
              " const r = e.getBoundingClientRect();"
              " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
              % json.dumps(selector))
        x, y = self.wait(js, timeout, "%s to be clickable" % selector)
        for t in ("mousePressed", "mouseReleased"):
            self.call("Input.dispatchMouseEvent", type=t, x=x, y=y,
                      button="left", clickCount=1)

    def type(self, selector, text):
        """Focus the field (a click) and type text into it."""
        self.click(selector)
        self.call("Input.insertText", text=text)

    def set_files(self, selector, paths):
        doc = self.call("DOM.getDocument")
        node = self.call("DOM.querySelector", nodeId=doc["root"]["nodeId"],
                         selector=selector)
        self.call("DOM.setFileInputFiles", files=paths,
                  nodeId=node["nodeId"])

    def screenshot(self, path):
        """A PNG of the whole page (not only the viewport)."""
        h = self.eval("Math.ceil(document.documentElement.scrollHeight)")
        self.call("Emulation.setDeviceMetricsOverride", width=1280,
                  height=max(600, min(int(h), 4000)), deviceScaleFactor=1,
                  mobile=False)
        try:
            png = self.call("Page.captureScreenshot", timeout=30.0,
                            format="png")
        finally:
            self.call("Emulation.setDeviceMetricsOverride", width=1280,
                      height=900, deviceScaleFactor=1, mobile=False)
        with open(path, "wb") as f:
            f.write(base64.b64decode(png["data"]))
