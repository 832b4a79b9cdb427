#!/bin/bash
# extract_corpus.sh - the extractor (src/extract.h) against the
# tutorial's own tool on real pages nobody here wrote: the Python 3.11
# documentation of Debian's python3.11-doc (about 530 pages, installed by
# script/bootstrap). For every page, tests/extract/extract-file's title
# and link list must equal what BeautifulSoup (python3-bs4, html.parser)
# with urllib.parse.urljoin gives against the same base, fragments
# dropped (tests/extract/bs4_compare.py), the same strings or the same
# once bs4's URLs get the normalisations docs/extract.md lists. Then the
# daemon: every page served over HTTP by the test upstream (/files/),
# fetched in one batch with extract true and body none; its title and
# links must pass the same bs4 comparison (against the loopback URLs)
# and its whole extract must equal extract-file's for the same URL.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

: "${EXTRACT_FILE:?EXTRACT_FILE must point to tests/extract/extract-file}"
DOCS=${EXTRACT_CORPUS:-/usr/share/doc/python3.11/html}
PY=/usr/bin/python3

if [ ! -f "$DOCS/library/asyncio-task.html" ]; then
	echo "the corpus is missing: $DOCS (apt-get install python3.11-doc; script/bootstrap does)" >&2
	exit 1
fi
$PY -c 'import bs4' || {
	echo "python3-bs4 is missing (script/bootstrap installs it)" >&2
	exit 1
}

# The pages, each as if served from docs.python.org.
(cd "$DOCS" && find . -name '*.html' | sed 's|^\./||' | LC_ALL=C sort) |
	awk -v d="$DOCS" '{ printf "%s/%s\thttps://docs.python.org/3.11/%s\n", d, $0, $0 }' \
		>"$T/pages.tsv"
pages=$(wc -l <"$T/pages.tsv")
check_true "a corpus of real pages ($pages)" test "$pages" -ge 400

# Fed in 1,500-byte pieces, as a network delivers a body.
check_true "extract-file runs over every page" \
	sh -c '"$1" -c 1500 -l <"$2" >"$3"' _ "$EXTRACT_FILE" "$T/pages.tsv" "$T/extract.ndjson"
check "one result per page" "$(wc -l <"$T/extract.ndjson")" "$pages"
check "every result is an extract object" \
	"$(jq -s '[.[] | select(.extract | type == "object")] | length' "$T/extract.ndjson")" "$pages"

$PY "$SRCDIR/tests/extract/bs4_compare.py" "$T/pages.tsv" "$T/extract.ndjson" >"$T/compare.txt"
rc=$?
tail -n 20 "$T/compare.txt"
check "title and links as bs4 + urljoin on every page" "$rc" 0
check "the comparison saw every page" \
	"$(tail -n 1 "$T/compare.txt" | cut -d' ' -f1)" "$pages"

# Whole or in pieces: the same bytes (a sample, 1-byte pieces are slow).
head -n 25 "$T/pages.tsv" >"$T/sample.tsv"
"$EXTRACT_FILE" -c 1 -l <"$T/sample.tsv" >"$T/ones.ndjson"
"$EXTRACT_FILE" -c 1000000 -l <"$T/sample.tsv" >"$T/whole.ndjson"
check_true "1-byte pieces and whole files give the same results" \
	cmp -s "$T/ones.ndjson" "$T/whole.ndjson"

# --- the daemon, the same pages over HTTP ------------------------------------------------
start_upstream 127.0.0.1:0 --root "$DOCS"
start_fanoutd
awk -F'\t' -v d="$DOCS/" -v up="$UP/files/" \
	'{ rel = substr($1, length(d) + 1); printf "%s\t%s%s\n", $1, up, rel }' \
	"$T/pages.tsv" >"$T/served.tsv"
cut -f2 "$T/served.tsv" | jq -R . | jq -s -c '{requests: ., options: {extract: true, body: "none", headers: false, concurrency: 50, max_body_bytes: 16777216}}' \
	>"$T/batch.json"
curl -sS --max-time 300 "$FO/v1/batch" -H 'Content-Type: application/json' \
	--data-binary @"$T/batch.json" >"$T/daemon.ndjson"
check "the daemon: one line per page, each ok with an extract object" \
	"$(jq -s '[.[] | select(.index != null and .ok and (.extract | type == "object"))] | length' "$T/daemon.ndjson")" "$pages"
# Its lines as extract-file's, keyed by the page's file.
jq -c --slurpfile p <(jq -R -s -c 'split("\n") | map(select(length > 0) | split("\t")[0])' "$T/served.tsv") \
	'select(.index != null) | {file: $p[0][.index], extract}' "$T/daemon.ndjson" >"$T/daemon.extract"
$PY "$SRCDIR/tests/extract/bs4_compare.py" "$T/served.tsv" "$T/daemon.extract" >"$T/daemon-compare.txt"
rc=$?
tail -n 5 "$T/daemon-compare.txt"
check "the daemon's title and links over HTTP: as bs4 + urljoin on every page" "$rc" 0
"$EXTRACT_FILE" -c 1500 -l <"$T/served.tsv" | jq -c '{file, extract}' | LC_ALL=C sort >"$T/module.extract"
LC_ALL=C sort "$T/daemon.extract" >"$T/daemon.sorted"
check_true "the daemon's extract equals the module's on every page (meta included)" \
	cmp -s "$T/module.extract" "$T/daemon.sorted"
finish
