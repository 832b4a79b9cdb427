#!/bin/bash
# extract.sh - extraction in the pipeline (issue #17) against the real
# daemon: hand-made pages served by the test upstream (--root, /files/)
# for each fault other scrapers shipped (<base href> ignored, links
# resolved against the pre-redirect URL, ?page=2 relative links, titles
# garbled on non-UTF-8 pages, the <title> of an <svg>, no <head>,
# unclosed tags, a 10 MB page with one link at the end, href whitespace
# and &amp;), each charset route (HTTP charset, BOM, <meta> prescan,
# undecodable bytes), what is not HTML (skipped, with why), bodies that
# never came (HEAD, 204, errors), body "none", gzip, a body cut at
# max_body_bytes, the item field, max_links, the query string, and a job
# whose stored lines carry the extract.
. "${TESTLIB:?TESTLIB must point to tests/integration/lib.sh}"

R="$T/root"
mkdir -p "$R/sub"
page() { printf '%b' "$2" >"$R/$1"; }

page base.html '<html><head><title>Base</title><base href="http://other.example/docs/"></head><body><a href="intro.html">i</a><a href="/abs">a</a><a href="../up.html">u</a></body></html>'
page sub/rel.html '<title>Relative</title><a href="next.html">n</a><a href="?page=2">p2</a><a href="?page=2#top">p2 again</a><a href="#frag">self</a>'
page svg.html '<html><body><svg><title>Icon</title><a href="/in-svg">x</a></svg><title>Real title</title><a href="/out">o</a></body></html>'
page svgonly.html '<html><head></head><body><svg><title>Only icon</title></svg></body></html>'
page nohead.html '<title>No head</title><a href="/x">x</a>'
page unclosed.html '<title>Unclosed</title><p><a href="a1">one<p><a href="a2">two<div><b>bold <a href=a3>three'
page ws.html '<title>Spaces</title><a href="  /q?a=1&amp;b=2\n\t ">q</a><a href=" mailto:x@y ">m</a><a href="javascript:void(0)">j</a><a href="tel:+1">t</a><a href="data:text/html,x">d</a>'
page meta.html '<html lang="fr"><head><title>M</title><link rel="Canonical stylesheet" href="/canon"><meta name="description" content="  A   page "><meta name="robots" content="noindex"><meta http-equiv="refresh" content="5; url=/next"></head></html>'
# windows-1252, named by HTTP only: "Café – 5 €".
page cp1252.html '<title>Caf\xe9 \x96 5 \x80</title>'
# ISO-8859-1 (read as windows-1252) named by <meta charset>; KOI8-R by
# http-equiv; Shift_JIS by HTTP; a UTF-8 BOM over a wrong HTTP charset;
# bytes that are not UTF-8 in a UTF-8 page.
page latin1.html '<meta charset="iso-8859-1"><title>na\xefve</title>'
page koi8.html '<meta http-equiv="Content-Type" content="text/html; charset=koi8-r"><title>\xf0\xd2\xc9\xd7\xc5\xd4</title>'
page sjis.html '<title>\x93\xfa\x96\x7b</title>'
page bom.html '\xef\xbb\xbf<title>caf\xc3\xa9</title>'
page bad.html '<title>a\xffb\xc3</title>'
page sniff.html '<!DOCTYPE html><title>Sniffed</title>'
page plain.txt 'just text, <title>not a page</title>'
page image.png '\x89PNG\r\n\x1a\n'
page many.html "$(for i in $(seq 1 20); do printf '<a href="/l%d">%d</a>' "$i" "$i"; done)"
# A head cut by max_body_bytes: what arrived is extracted.
page cut.html "<title>Cut short</title><meta name=\"description\" content=\"$(head -c 3000 /dev/zero | tr '\0' x)\"><a href=/after>x</a>"
# 10 MB of ordinary markup, then one link.
awk 'BEGIN { s = "<p>filler paragraph with <b>some</b> markup &amp; text</p>\n";
	printf "<html><head><title>Big</title></head><body>\n";
	for (n = 0; n < 10 * 1024 * 1024; n += length(s)) printf "%s", s;
	printf "<a href=\"/the-end\">the end</a></body></html>\n" }' >"$R/big.html"

start_upstream 127.0.0.1:0 --root "$R"
start_fanoutd
F="$UP/files"
enc() { jq -rn --arg u "$1" '$u | @uri'; }

# run JSON: the batch's result lines, sorted by index, as a JSON array.
run() {
	batch "$1" | jq -s -c 'map(select(.index != null)) | sort_by(.index)'
}
# x OUT I FILTER: FILTER over the extract of result I.
x() {
	printf '%s' "$1" | jq -c ".[$2].extract | $3"
}

# --- the faults --------------------------------------------------------------------
out=$(run "{\"requests\":[\"$F/base.html\",
	\"$UP/redirect-to?url=$(enc "$F/sub/rel.html")\",
	\"$F/svg.html\",\"$F/svgonly.html\",\"$F/nohead.html\",\"$F/unclosed.html\",
	\"$F/ws.html\",\"$F/meta.html\"],
	\"options\":{\"extract\":true,\"body\":\"none\"}}")
check "<base href> is the base of every link" "$(x "$out" 0 '[.links[].url]')" \
	'["http://other.example/docs/intro.html","http://other.example/abs","http://other.example/up.html"]'
check "after a redirect, links resolve against the final URL" "$(x "$out" 1 '[.links[].url]')" \
	"[\"$F/sub/next.html\",\"$F/sub/rel.html?page=2\",\"$F/sub/rel.html\"]"
check "?page=2 keeps the path; a repeat (fragment dropped) is dropped, its first text kept" \
	"$(x "$out" 1 '[.links[1].text, (.links | length)]')" '["p2",3]'
check "the line says where it was redirected to" \
	"$(printf '%s' "$out" | jq -r '.[1].final_url')" "$F/sub/rel.html"
check "an <svg>'s <title> is not the page title; its links are not links" \
	"$(x "$out" 2 '[.title, [.links[].url]]')" "[\"Real title\",[\"$UP/out\"]]"
check "a page whose only <title> is an <svg>'s has none" "$(x "$out" 3 .title)" null
check "a page without <head>" "$(x "$out" 4 '[.title, .links[0].url]')" "[\"No head\",\"$UP/x\"]"
check "unclosed tags: every link, each with its text (an unclosed <a> holds what follows)" \
	"$(x "$out" 5 '[.title, [.links[] | [.url, .text]]]')" \
	"[\"Unclosed\",[[\"$F/a1\",\"one\"],[\"$F/a2\",\"twobold\"],[\"$F/a3\",\"three\"]]]"
check "href whitespace trimmed, &amp; decoded; other schemes skipped and counted" \
	"$(x "$out" 6 '[[.links[].url], .links_skipped]')" "[[\"$UP/q?a=1&b=2\"],4]"
check "meta: lang, canonical and refresh resolved, description collapsed, robots, charset" \
	"$(x "$out" 7 '.meta')" \
	"{\"charset\":\"utf-8\",\"lang\":\"fr\",\"canonical\":\"$UP/canon\",\"description\":\"A page\",\"robots\":\"noindex\",\"refresh\":\"$UP/next\"}"
check "body none: no body on the line, its size still counted" \
	"$(printf '%s' "$out" | jq -c '[.[0] | has("body"), (.body_bytes > 0)]')" '[false,true]'

# The 10 MB page: parsed as it streams, never held whole.
out=$(run "{\"requests\":[\"$F/big.html\",\"$F/big.html?gzip=1&chunked=65536\"],
	\"options\":{\"extract\":[\"title\",\"links\"],\"body\":\"none\",\"max_body_bytes\":16777216}}")
check "a 10 MB page with one link at the end: found" \
	"$(x "$out" 0 '[.title, .links, has("partial")]')" \
	"[\"Big\",[{\"url\":\"$UP/the-end\",\"text\":\"the end\"}],false]"
check "the same page gzip-encoded and chunked: the same extract" \
	"$(x "$out" 1 .)" "$(x "$out" 0 .)"
check "all of it was read" "$(printf '%s' "$out" | jq -c 'map(.body_bytes > 10485760 and (.truncated | not))')" '[true,true]'
check_memory "fanoutd did not hold the 10 MB page (VmHWM < 60 MB)" \
	test "$(awk '/VmHWM/ { print $2 }' "/proc/$FANOUTD_PID/status")" -lt 61440

# --- character sets ------------------------------------------------------------------
cp="$F/cp1252.html?type=$(enc 'text/html; charset=windows-1252')"
sj="$F/sjis.html?type=$(enc 'text/html;charset=Shift_JIS')"
bom="$F/bom.html?type=$(enc 'text/html; charset=koi8-r')"
out=$(run "{\"requests\":[\"$cp\",\"$F/latin1.html\",\"$F/koi8.html\",\"$sj\",\"$bom\",\"$F/bad.html\"],
	\"options\":{\"extract\":[\"title\",\"meta\"]}}")
check "windows-1252 named by HTTP" "$(x "$out" 0 '[.title, .meta.charset]')" '["Café – 5 €","windows-1252"]'
check "ISO-8859-1 named by <meta charset> (decoded as windows-1252)" \
	"$(x "$out" 1 '[.title, .meta.charset]')" '["naïve","windows-1252"]'
check "KOI8-R named by http-equiv" "$(x "$out" 2 '[.title, .meta.charset]')" '["Привет","koi8-r"]'
check "Shift_JIS named by HTTP" "$(x "$out" 3 '[.title, .meta.charset]')" '["日本","shift_jis"]'
check "a BOM wins over the HTTP charset" "$(x "$out" 4 '[.title, .meta.charset]')" '["café","utf-8"]'
check "bytes that do not decode are U+FFFD, the line still JSON" \
	"$(x "$out" 5 .title)" '"a�b�"'

# --- what is not HTML, and bodies that never came ------------------------------------------
out=$(run "{\"requests\":[\"$F/image.png\",\"$F/plain.txt?type=none\",\"$F/sniff.html?type=none\",
	\"$F/plain.txt\",{\"url\":\"$F/base.html\",\"method\":\"HEAD\"},\"$UP/status/204\",
	\"http://127.0.0.1:1/\",\"$F/base.html?type=$(enc application/xhtml+xml)\"],
	\"options\":{\"extract\":true,\"retries\":0}}")
check "an image is skipped, saying why" \
	"$(printf '%s' "$out" | jq -c '.[0] | [.extract, .extract_skipped]')" '[null,"content type image/png is not HTML"]'
check "no content type and not HTML: skipped, saying why" \
	"$(printf '%s' "$out" | jq -r '.[1].extract_skipped')" "no content type and the body does not look like HTML"
check "no content type, a body that sniffs as HTML: extracted" "$(x "$out" 2 .title)" '"Sniffed"'
check "text/plain is skipped even with a <title> in it" \
	"$(printf '%s' "$out" | jq -r '.[3].extract_skipped')" "content type text/plain is not HTML"
check "HEAD, 204 and an error: null with the reason" \
	"$(printf '%s' "$out" | jq -c '[.[4,5,6] | [.extract, .extract_skipped]]')" \
	'[[null,"a HEAD response has no body"],[null,"status 204 has no body"],[null,"no response (connect)"]]'
check "application/xhtml+xml is HTML" "$(x "$out" 7 .title)" '"Base"'

# --- gzip, decode, the cap, the item field, max_links, the query string ---------------------
out=$(run "{\"requests\":[\"$F/meta.html?gzip=1\",
	{\"url\":\"$F/cut.html\"},
	{\"url\":\"$F/nohead.html\",\"extract\":[\"links\"]},
	{\"url\":\"$F/nohead.html\",\"extract\":false},
	\"$F/many.html\"],
	\"options\":{\"extract\":[\"title\"],\"max_body_bytes\":200,\"max_links\":5}}")
check "a gzip body is extracted decoded" "$(x "$out" 0 .title)" '"M"'
check "cut at max_body_bytes: what arrived is extracted" \
	"$(printf '%s' "$out" | jq -c '.[1] | [.truncated, .extract.title]')" '[true,"Cut short"]'
check "an item's own extract replaces the batch's" "$(x "$out" 2 'keys')" '["links","links_skipped","links_truncated"]'
check "an item may turn it off: no extract member at all" \
	"$(printf '%s' "$out" | jq -c '.[3] | [has("extract"), has("extract_skipped")]')" '[false,false]'
out=$(run "{\"requests\":[\"$F/many.html\"],\"options\":{\"extract\":[\"links\"],\"max_links\":5}}")
check "max_links keeps the first N and says it truncated" \
	"$(x "$out" 0 '[[.links[].text], .links_truncated]')" '[["1","2","3","4","5"],true]'
out=$(printf '%s\n' "$F/meta.html?gzip=1" | curl -sS "$FO/v1/batch?extract=title,meta&decode=false" \
	-H 'Content-Type: text/plain' --data-binary @-)
check "decode=false leaves a gzip body coded: skipped, saying why" \
	"$(results "$out" | jq -r .extract_skipped)" \
	"the body is gzip-encoded (not decoded: decode is false or the coding is unknown)"
check "the query string's extract shows in effective" \
	"$(summary "$out" | jq -c '.effective | [.extract, .max_links]')" '[["title","meta"],1000]'
check "a bad extract is a 400 naming it" \
	"$(batch "{\"requests\":[\"$F/a\"],\"options\":{\"extract\":[\"body\"]}}" | jq -r .error.message)" \
	'options.extract: expected a list of "title", "links", "meta", or true or false'
check "a bad item extract makes that item invalid" \
	"$(batch "[{\"url\":\"$F/a\",\"extract\":\"yes\"}]" | jq -r 'select(.index == 0) | .error.message')" \
	'requests[0].extract: expected a list of "title", "links", "meta", or true or false'

# --- a job stores the extract with its line ---------------------------------------------------
r=$(curl -sS -X POST "$FO/v1/jobs" -H 'Content-Type: application/json' --data-binary \
	"{\"requests\":[\"$F/base.html\",{\"url\":\"$F/image.png\",\"extract\":[\"title\"]}],\"options\":{\"extract\":[\"title\",\"links\"],\"body\":\"none\"}}")
id=$(printf '%s' "$r" | jq -r .job.id)
check "a job keeps extract in its options" "$(printf '%s' "$r" | jq -c .job.options.extract)" '["title","links"]'
jr=$(curl -sS -N --max-time 60 "$FO/v1/jobs/$id/results?follow=true" | jq -s -c 'map(select(.seq)) | sort_by(.index)')
check "a job's stored lines carry the extract" \
	"$(printf '%s' "$jr" | jq -c '[.[0].extract.title, (.[0].extract.links | length), .[1].extract_skipped]')" \
	'["Base",3,"content type image/png is not HTML"]'
check "read again, the same lines" \
	"$(curl -sS "$FO/v1/jobs/$id/results" | jq -s -c 'map(select(.seq)) | sort_by(.index) | map(.extract)')" \
	"$(printf '%s' "$jr" | jq -c 'map(.extract)')"
finish
