#!/bin/bash
# extract_corpus.sh - the extractor (src/extract.h) against the
# tutorial's own tool on real pages nobody here wrote: the Python 3.11
# documentation of Debian's python3.11-doc (about 530 pages, installed by
# script/bootstrap). For every page, tests/extract/extract-file's title
# and link list must equal what BeautifulSoup (python3-bs4, html.parser)
# with urllib.parse.urljoin gives against the same base, fragments
# dropped (tests/extract/bs4_compare.py), the same strings or the same
# once bs4's URLs get the normalisations docs/extract.md lists. The
# daemon is not involved yet: the wiring waits on issue #15.
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
finish
