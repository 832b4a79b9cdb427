/*
 * extract.c - one response's title, links and metadata, extracted as the
 * body streams in (see extract.h; the choices are in docs/extract.md).
 *
 * An extractor is a state machine: it holds the first 1024 bytes
 * (PRESCAN) to decide whether the body is HTML and in which charset;
 * then decodes each piece to UTF-8 and pushes it through libxml2's HTML
 * push parser in steps of 4 KiB (PARSE), whose SAX callbacks
 * (extract_sax.c) fill in the result. A body that is not HTML (SKIP)
 * or an extractor past its memory cap (FULL) drops what it is fed.
 *
 * libxml2 sees the same steps however the body was cut into pieces on
 * the way (the staging buffer decides them), so a document fed whole or
 * in any pieces gives the same result byte for byte; the fuzz harness
 * (tests/fuzz/fuzz_extract.c) holds us to that.
 */
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>
#include <libxml/parserInternals.h>
#include <libxml/xmlerror.h>

#include "emit.h"
#include "extract.h"
#include "extract_sax.h"
#include "util.h"

/* Bytes of UTF-8 handed to libxml2 per htmlParseChunk, and the most
 * body bytes decoded at once. */
#define XSTEP 4096

/* The one place the state changes. */
static void
xs_set(struct extract *x, enum xstate s)
{
	x->state = s;
}

/* --- is it HTML? MIME Sniffing §7.1 ---------------------------------- */

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* The HTML patterns of "rules for identifying an unknown MIME type",
 * each to be followed by a tag-terminating byte (space or '>'). */
static const char *const html_patterns[] = {"<!doctype html", "<html", "<head",
    "<script", "<iframe", "<h1", "<div", "<font", "<table", "<a", "<style",
    "<title", "<b", "<body", "<br", "<p", "<!--"};

static bool
sniffs_as_html(const unsigned char *p, size_t n)
{
	size_t i, k, len;

	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF)
		p += 3, n -= 3; /* simplified: a UTF-8 BOM is skipped */
	while (n > 0 && is_ws(*p))
		p++, n--;
	for (i = 0; i < ARRAY_SIZE(html_patterns); i++) {
		len = strlen(html_patterns[i]);
		if (n <= len)
			continue;
		for (k = 0; k < len; k++) {
			unsigned char c = p[k];

			if (c >= 'A' && c <= 'Z')
				c += 32;
			if (c != (unsigned char)html_patterns[i][k])
				break;
		}
		if (k == len && (p[len] == ' ' || p[len] == '>'))
			return true;
	}
	return false;
}

bool
extract_is_html(
    const char *content_type, const void *head, size_t n, struct buf *why)
{
	const char *s = content_type ? content_type : "";
	size_t len;

	while (is_ws((unsigned char)*s))
		s++;
	len = strcspn(s, ";");
	while (len > 0 && is_ws((unsigned char)s[len - 1]))
		len--;
	if (len == 0) {
		if (sniffs_as_html(head, n))
			return true;
		if (why != NULL)
			buf_adds(why,
			    "no content type and the body does not "
			    "look like HTML");
		return false;
	}
	if ((len == 9 && strncasecmp(s, "text/html", 9) == 0) ||
	    (len == 21 && strncasecmp(s, "application/xhtml+xml", 21) == 0))
		return true;
	if (why != NULL) {
		buf_adds(why, "content type ");
		buf_add(why, s, len < 100 ? len : 100);
		buf_adds(why, " is not HTML");
	}
	return false;
}

/* --- memory ----------------------------------------------------------- */

/*
 * What x holds outside libxml2: its buffers and stored results. The
 * staging buffers count at their bound (a step, and what one piece of
 * body decodes to), not at their capacity, which depends on how the
 * body was cut into pieces: the cap must stop a document at the same
 * place however it arrives.
 */
static size_t
own_bytes(const struct extract *x)
{
	return sizeof(*x) + EXTRACT_PRESCAN_BYTES + x->step + 3 * XSTEP +
	    x->tmp.cap + x->title.b.cap + x->desc.b.cap + x->robots.b.cap +
	    x->links_bytes + x->seen_cap * sizeof(*x->seen) + strlen(x->base);
}

/* Stop at the memory cap: the parser goes, the results stay. */
static void
xs_full(struct extract *x)
{
	buf_reset(&x->why);
	buf_adds(&x->why, "memory cap of ");
	buf_addu(&x->why, x->o.mem_cap);
	buf_adds(&x->why, " bytes reached after ");
	buf_addu(&x->why, x->parsed);
	buf_adds(&x->why, " bytes of the document (as UTF-8)");
	xsax_close_parser(x);
	xs_set(x, XS_FULL);
}

/* After a parse step: the peak, the cap. */
static void
check_mem(struct extract *x)
{
	size_t own = own_bytes(x);

	if (x->step_peak + own > x->peak)
		x->peak = x->step_peak + own;
	if (x->mem + own > x->o.mem_cap)
		xs_full(x);
}

/* --- parsing ----------------------------------------------------------- */

/* Hand p[0..n) to libxml2 (term: the document ends). */
static void
parse_step(struct extract *x, const char *p, size_t n, bool term)
{
	htmlParserCtxtPtr c = x->ctxt;

	x->step_peak = x->mem;
	xmem_enter(&x->mem, &x->step_peak);
	/* libxml2 2.9's push parser resumes its search for a start tag's
	 * '>' at checkIndex with the quote state of an earlier call, and can
	 * miss the '>' for good (os.html of the Python docs then buffers
	 * whole). Searching again from the tag's start is always right. */
	if (c->instate == XML_PARSER_START_TAG)
		c->checkIndex = 0;
	htmlParseChunk(c, p, (int)n, term ? 1 : 0);
	x->parsed += n;
	/* libxml2 keeps a copy of the last parse error in a global; its
	 * strings were counted here, so they are freed here, not by the
	 * next extractor to run into an error. */
	xmlResetLastError();
	xmem_leave();
	/* That search costs what the tag holds so far: a long tag is given
	 * steps as long as it, so the searches add up to twice its length. */
	x->step = XSTEP;
	if (c->instate == XML_PARSER_START_TAG && c->input != NULL &&
	    (size_t)(c->input->end - c->input->cur) > XSTEP)
		x->step = (size_t)(c->input->end - c->input->cur);
	check_mem(x);
}

/* The end of the document. A start tag still open is dropped, as the
 * HTML standard's tokenizer drops a tag cut by the end of the file
 * ("eof-in-tag"): libxml2 would report it, with a cut attribute (a
 * truncated href) as if it were whole. */
static void
parse_end(struct extract *x)
{
	htmlParserCtxtPtr c = x->ctxt;

	if (c->instate == XML_PARSER_START_TAG && c->input != NULL)
		c->input->cur = c->input->end;
	parse_step(x, "", 0, true);
}

/* Parse the staged UTF-8 in steps of x->step; all of it when term. */
static void
pump(struct extract *x, bool term)
{
	const char *d = x->utf8.data ? x->utf8.data : "";
	size_t off = 0;

	while (x->state == XS_PARSE && x->utf8.len - off >= x->step) {
		size_t n = x->step;

		parse_step(x, d + off, n, false);
		off += n;
	}
	if (x->state == XS_PARSE && term) {
		parse_step(x, d + off, x->utf8.len - off, false);
		off = x->utf8.len;
	}
	if (x->state == XS_PARSE && term)
		parse_end(x);
	if (off > 0) {
		memmove(x->utf8.data, x->utf8.data + off, x->utf8.len - off);
		x->utf8.len -= off;
	}
}

/* The charset, in the HTML standard's order (§13.2.3.2): a BOM (its
 * bytes skipped), the HTTP charset, the <meta> prescan, UTF-8. */
static size_t
pick_charset(struct extract *x)
{
	const unsigned char *p = (const unsigned char *)x->pre.data;
	size_t bom = 0;

	if ((x->charset = xcs_bom(p, x->pre.len, &bom)) == NULL &&
	    (x->charset = xcs_from_content_type(x->ctype)) == NULL &&
	    (x->charset = xcs_prescan(p, x->pre.len)) == NULL)
		x->charset = "utf-8";
	if (strcmp(x->charset, "x-user-defined") == 0)
		x->charset = "windows-1252";
	return bom;
}

/* The first bytes are in (or the body ended): HTML? which charset? */
static void
start(struct extract *x)
{
	size_t bom;

	if (!extract_is_html(x->ctype, x->pre.data, x->pre.len, &x->why)) {
		xs_set(x, XS_SKIP);
		return;
	}
	bom = pick_charset(x);
	xdec_open(&x->dec, x->charset);
	xsax_open_parser(x);
	xs_set(x, XS_PARSE);
	xdec_run(&x->dec, (const unsigned char *)x->pre.data + bom,
	    x->pre.len - bom, false, &x->utf8);
	pump(x, false);
}

void
extract_feed(struct extract *x, const void *p, size_t n)
{
	const unsigned char *s = p;

	while (n > 0) {
		size_t take;

		if (x->state == XS_PRESCAN) {
			take = EXTRACT_PRESCAN_BYTES - x->pre.len;
			take = take < n ? take : n;
			buf_add(&x->pre, s, take);
			if (x->pre.len == EXTRACT_PRESCAN_BYTES)
				start(x);
		} else if (x->state == XS_PARSE) {
			take = n < XSTEP ? n : XSTEP;
			xdec_run(&x->dec, s, take, false, &x->utf8);
			pump(x, false);
		} else {
			take = n; /* SKIP, FULL, DONE: dropped */
		}
		s += take;
		n -= take;
	}
}

void
extract_finish(struct extract *x)
{
	if (x->state == XS_PRESCAN)
		start(x);
	if (x->state == XS_PARSE) {
		xdec_run(&x->dec, NULL, 0, true, &x->utf8);
		pump(x, true);
	}
	if (x->state == XS_PARSE)
		xs_set(x, XS_DONE);
	xsax_close_parser(x);
	xdec_close(&x->dec);
}

/* --- life ------------------------------------------------------------- */

struct extract *
extract_create(const struct extract_opts *opts, const char *base_url,
    const char *content_type)
{
	struct extract *x = xcalloc(1, sizeof(*x));

	xmem_init();
	if (opts != NULL)
		x->o = *opts;
	if (x->o.what == 0)
		x->o.what = EXTRACT_ALL;
	if (x->o.max_links == 0)
		x->o.max_links = EXTRACT_MAX_LINKS_DEFAULT;
	if (x->o.text_cap == 0)
		x->o.text_cap = EXTRACT_TEXT_CAP_DEFAULT;
	if (x->o.mem_cap == 0)
		x->o.mem_cap = EXTRACT_MEM_CAP_DEFAULT;
	x->doc_url = xstrdup(base_url ? base_url : "");
	x->base = xstrdup(x->doc_url);
	x->ctype = content_type ? xstrdup(content_type) : NULL;
	x->dec.cd = (iconv_t)-1;
	x->step = XSTEP;
	x->title.cap = x->desc.cap = x->robots.cap = EXTRACT_FIELD_CAP;
	x->open_link = -1;
	xs_set(x, XS_PRESCAN);
	return x;
}

size_t
extract_mem_peak(const struct extract *x)
{
	return x->peak;
}

void
extract_free(struct extract *x)
{
	size_t i;

	if (x == NULL)
		return;
	xsax_close_parser(x);
	xdec_close(&x->dec);
	for (i = 0; i < x->nlinks; i++) {
		free(x->links[i].url);
		free(x->links[i].rel);
		buf_free(&x->links[i].text.b);
	}
	free(x->links);
	free(x->seen);
	free(x->doc_url);
	free(x->base);
	free(x->ctype);
	free(x->lang);
	free(x->canonical);
	free(x->refresh);
	buf_free(&x->pre);
	buf_free(&x->utf8);
	buf_free(&x->tmp);
	buf_free(&x->why);
	buf_free(&x->title.b);
	buf_free(&x->desc.b);
	buf_free(&x->robots.b);
	free(x);
}

/* --- the result -------------------------------------------------------- */

void
extract_json_skipped(struct buf *out, const char *why)
{
	buf_adds(out, "\"extract\":null,\"extract_skipped\":");
	emit_json_string(out, why, strlen(why));
}

static void
json_str(struct buf *out, const char *key, const char *s, size_t n)
{
	buf_addc(out, ',');
	emit_json_string(out, key, strlen(key));
	buf_addc(out, ':');
	emit_json_string(out, s, n);
}

static void
json_links(struct extract *x, struct buf *out)
{
	size_t i;

	buf_adds(out, "\"links\":[");
	for (i = 0; i < x->nlinks; i++) {
		const struct xlink *l = &x->links[i];

		if (i > 0)
			buf_addc(out, ',');
		buf_adds(out, "{\"url\":");
		emit_json_string(out, l->url, strlen(l->url));
		json_str(out, "text", buf_cstr((struct buf *)&l->text.b),
		    l->text.b.len);
		if (l->rel != NULL)
			json_str(out, "rel", l->rel, strlen(l->rel));
		buf_addc(out, '}');
	}
	buf_adds(out, "],\"links_skipped\":");
	buf_addu(out, x->skipped);
	buf_adds(out,
	    x->truncated ? ",\"links_truncated\":true"
	                 : ",\"links_truncated\":false");
}

static void
json_meta(struct extract *x, struct buf *out)
{
	buf_adds(out, "\"meta\":{\"charset\":");
	emit_json_string(out, x->charset, strlen(x->charset));
	if (x->lang != NULL)
		json_str(out, "lang", x->lang, strlen(x->lang));
	if (x->canonical != NULL)
		json_str(out, "canonical", x->canonical, strlen(x->canonical));
	if (x->have_desc)
		json_str(
		    out, "description", buf_cstr(&x->desc.b), x->desc.b.len);
	if (x->have_robots)
		json_str(
		    out, "robots", buf_cstr(&x->robots.b), x->robots.b.len);
	if (x->refresh != NULL)
		json_str(out, "refresh", x->refresh, strlen(x->refresh));
	buf_addc(out, '}');
}

void
extract_json(struct extract *x, struct buf *out)
{
	bool first = true;

	extract_finish(x);
	if (x->state == XS_SKIP) {
		extract_json_skipped(out, buf_cstr(&x->why));
		return;
	}
	buf_adds(out, "\"extract\":{");
	if (x->o.what & EXTRACT_TITLE) {
		buf_adds(out, "\"title\":");
		if (x->title_state == XT_NONE)
			buf_adds(out, "null");
		else
			emit_json_string(
			    out, buf_cstr(&x->title.b), x->title.b.len);
		first = false;
	}
	if (x->o.what & EXTRACT_LINKS) {
		if (!first)
			buf_addc(out, ',');
		json_links(x, out);
		first = false;
	}
	if (x->o.what & EXTRACT_META) {
		if (!first)
			buf_addc(out, ',');
		json_meta(x, out);
		first = false;
	}
	if (x->state == XS_FULL) {
		if (!first)
			buf_addc(out, ',');
		buf_adds(out, "\"partial\":");
		emit_json_string(out, buf_cstr(&x->why), x->why.len);
	}
	buf_addc(out, '}');
}
