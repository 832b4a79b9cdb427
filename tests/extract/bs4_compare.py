#!/usr/bin/python3
"""bs4_compare.py - the tutorial's own tool as the reference for the
extractor (issue #17): BeautifulSoup (html.parser) for the title and
every a[href] / area[href], urllib.parse.urljoin against the page's URL
(or its first <base href>), fragments dropped, http(s) only, duplicates
dropped keeping the first.

    bs4_compare.py LIST EXTRACT_OUTPUT

LIST has lines FILE<TAB>BASE-URL; EXTRACT_OUTPUT is what
`extract-file -l < LIST` printed. A page is "identical" when title and
link list are the same strings as bs4's; "identical once normalised"
when they are after bs4's URLs get the normalisations docs/extract.md
lists (each a deliberate, standards-based difference). Prints each page
that differs even then, and the counts; exits 1 when any page differs
(or is missing), 0 otherwise.
"""
import json
import re
import sys
from urllib.parse import urldefrag, urljoin

from bs4 import BeautifulSoup

WS = re.compile(r"[ \t\n\f\r]+")  # HTML's ASCII whitespace


def collapse(s):
    return WS.sub(" ", s).strip(" \t\n\f\r")


def normalise(u):
    """The URL as the WHATWG URL standard serialises it, for the cases
    docs/extract.md lists: surrounding ASCII whitespace trimmed, scheme
    and host in lower case, an empty path as "/", bytes outside RFC
    3986's set percent-encoded as UTF-8."""
    scheme, rest = u.strip(" \t\n\f\r").split("://", 1)
    cut = min([i for i in (rest.find("/"), rest.find("?")) if i >= 0],
              default=len(rest))
    auth, tail = rest[:cut], rest[cut:]
    at = auth.rfind("@") + 1
    auth = auth[:at] + auth[at:].lower()
    if not tail.startswith("/"):
        tail = "/" + tail
    tail = "".join(c if c in URI_CHARS else
                   "".join("%%%02X" % b for b in c.encode("utf-8"))
                   for c in tail)
    return scheme.lower() + "://" + auth + tail


URI_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                "0123456789-._~!$&'()*+,;=:@/?%")


def reference(path, url):
    """What a BeautifulSoup scraper extracts from the page at path."""
    with open(path, "rb") as f:
        soup = BeautifulSoup(f.read(), "html.parser")
    t = soup.find("title")
    title = collapse(t.get_text()) if t is not None else None
    base = url
    b = soup.find("base", href=True)
    if b is not None:
        base = urljoin(url, b["href"])
    links, seen = [], set()
    for a in soup.find_all(["a", "area"], href=True):
        u = urldefrag(urljoin(base, a["href"]))[0]
        # urljoin returns an href of another scheme than the base's as
        # it is, surrounding spaces included (" https://x/" on an http
        # page); the extractor trims them, as HTML §2.4.1 does.
        if not u.strip(" \t\n\f\r").lower().startswith(("http://", "https://")):
            continue
        links.append(u)
    return title, links


def dedup(urls):
    seen, out = set(), []
    for u in urls:
        if u not in seen:
            seen.add(u)
            out.append(u)
    return out


def first_difference(a, b):
    for i, (x, y) in enumerate(zip(a, b)):
        if x != y:
            return "link %d: bs4 %r, extract %r" % (i, x, y)
    return "bs4 has %d links, extract %d" % (len(a), len(b))


def main():
    pages = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
    got = {}
    for line in open(sys.argv[2]):
        r = json.loads(line)
        got[r["file"]] = r["extract"]
    same = normalised = differ = 0
    for path, url in pages:
        title, raw = reference(path, url)
        x = got.get(path)
        if x is None:
            print("%s: no extract" % path)
            differ += 1
            continue
        xlinks = [l["url"] for l in x["links"]]
        links = dedup(normalise(u) for u in raw)
        problems = []
        if x["title"] != title:
            problems.append("title: bs4 %r, extract %r" % (title, x["title"]))
        if xlinks != links:
            problems.append(first_difference(links, xlinks))
        if problems:
            differ += 1
            print("%s: %s" % (path, "; ".join(problems)))
        elif xlinks == dedup(raw):
            same += 1
        else:
            normalised += 1
    print("%d pages: %d identical, %d identical once normalised, %d differ"
          % (len(pages), same, normalised, differ))
    return 1 if differ or not pages else 0


if __name__ == "__main__":
    sys.exit(main())
