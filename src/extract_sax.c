/*
 * extract_sax.c - libxml2's HTML push parser driven through SAX
 * callbacks: no tree is built; each element that matters is read as it
 * opens (<title>, <a>/<area href>, <base>, <link rel=canonical>,
 * <meta>, <html lang>) and its text collected as it streams.
 *
 * The parser gets UTF-8 only (extract.c decodes) and is told to ignore
 * the document's own encoding hints; it reports no errors (HTML in the
 * wild has them all) and reaches no network.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/HTMLparser.h>

#include "extract_sax.h"
#include "util.h"

/* --- text -------------------------------------------------------------- */

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

/* The bytes of the UTF-8 character a lead byte begins. */
static size_t
utf8_len(unsigned char c)
{
	return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

void
xtext_add(struct xtext *t, const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && !t->full; i++) {
		unsigned char c = (unsigned char)s[i];

		if (is_ws(c)) {
			t->space = t->b.len > 0;
			continue;
		}
		if ((c & 0xC0) != 0x80 &&
		    t->b.len + t->space + utf8_len(c) > t->cap) {
			t->full = true;
			break;
		}
		if (t->space)
			buf_addc(&t->b, ' ');
		t->space = false;
		buf_addc(&t->b, (char)c);
	}
}

/* --- attributes --------------------------------------------------------- */

/* The value of attribute name (lower case, as libxml2 reports names),
 * "" for one without a value, NULL when absent. */
static const char *
attr(const xmlChar **atts, const char *name)
{
	size_t i;

	for (i = 0; atts != NULL && atts[i] != NULL; i += 2)
		if (strcmp((const char *)atts[i], name) == 0)
			return atts[i + 1] ? (const char *)atts[i + 1] : "";
	return NULL;
}

/* Does the space-separated token list s hold tok (ASCII
 * case-insensitive)? */
static bool
has_token(const char *s, const char *tok)
{
	size_t n = strlen(tok), k;

	while (*s != '\0') {
		while (is_ws((unsigned char)*s))
			s++;
		for (k = 0; s[k] != '\0' && !is_ws((unsigned char)s[k]); k++)
			;
		if (k == n && strncasecmp(s, tok, n) == 0)
			return true;
		s += k;
	}
	return false;
}

/* A copy of s with whitespace collapsed, at most cap bytes. */
static char *
collapsed(const char *s, size_t cap)
{
	struct xtext t = {BUF_INIT, cap, false, false};
	char *r;

	xtext_add(&t, s, strlen(s));
	r = xstrdup(buf_cstr(&t.b));
	buf_free(&t.b);
	return r;
}

/* --- links -------------------------------------------------------------- */

static uint32_t
hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* The slot of url in the seen table: its link's, or the empty one where
 * it would go. */
static size_t
seen_slot(const struct extract *x, const char *url)
{
	size_t i = hash(url) & (x->seen_cap - 1);

	while (
	    x->seen[i] != 0 && strcmp(x->links[x->seen[i] - 1].url, url) != 0)
		i = (i + 1) & (x->seen_cap - 1);
	return i;
}

/* Room for one more link: the array and the table at most half full. */
static void
links_grow(struct extract *x)
{
	size_t i, old = x->seen_cap;
	uint32_t *prev = x->seen;

	if (x->nlinks == x->links_cap) {
		x->links_cap = x->links_cap ? 2 * x->links_cap : 16;
		x->links = xrealloc(x->links, x->links_cap * sizeof(*x->links));
	}
	if (2 * (x->nlinks + 1) <= x->seen_cap)
		return;
	x->seen_cap = old ? 2 * old : 32;
	x->seen = xcalloc(x->seen_cap, sizeof(*x->seen));
	for (i = 0; i < old; i++)
		if (prev[i] != 0)
			x->seen[seen_slot(x, x->links[prev[i] - 1].url)] =
			    prev[i];
	free(prev);
}

/* An <a> or <area> with an href: resolved, deduplicated, counted. */
static void
on_link(struct extract *x, const char *href, const char *rel, bool is_a)
{
	struct xlink *l;
	size_t slot;

	buf_reset(&x->tmp);
	if (xurl_link(x->base, href, strlen(href), &x->tmp) != 0) {
		x->skipped++;
		return;
	}
	if (x->seen_cap > 0 && x->seen[seen_slot(x, buf_cstr(&x->tmp))] != 0)
		return; /* a duplicate: the first one stands */
	if (x->nlinks == x->o.max_links) {
		x->truncated = true;
		return;
	}
	links_grow(x);
	slot = seen_slot(x, buf_cstr(&x->tmp));
	l = &x->links[x->nlinks];
	memset(l, 0, sizeof(*l));
	l->url = xstrdup(buf_cstr(&x->tmp));
	l->rel = rel ? collapsed(rel, EXTRACT_FIELD_CAP) : NULL;
	l->text.cap = x->o.text_cap;
	x->seen[slot] = (uint32_t)++x->nlinks;
	x->links_bytes += sizeof(*l) + x->tmp.len + 1 +
	    (rel ? strlen(l->rel) + 1 : 0) + x->o.text_cap +
	    sizeof(*x->seen) * 2;
	if (is_a)
		x->open_link = (long)x->nlinks - 1;
}

/* --- metadata ----------------------------------------------------------- */

/* A resolved http(s) URL for a metadata field, or NULL. */
static char *
meta_url(struct extract *x, const char *s, size_t n)
{
	buf_reset(&x->tmp);
	if (xurl_link(x->base, s, n, &x->tmp) != 0)
		return NULL;
	return xstrdup(buf_cstr(&x->tmp));
}

/* HTML §4.2.5.3's "shared declarative refresh steps": the URL a
 * refresh content attribute ("5; url='/next'") leads to; the document
 * itself when it names none; NULL when it is not a refresh. */
static char *
refresh_target(struct extract *x, const char *s)
{
	const char *url;
	char quote = 0;
	size_t n;

	while (is_ws((unsigned char)*s))
		s++;
	if (!(*s >= '0' && *s <= '9') && *s != '.')
		return NULL;
	while ((*s >= '0' && *s <= '9') || *s == '.')
		s++;
	if (*s == '\0')
		return meta_url(x, x->doc_url, strlen(x->doc_url));
	if (*s != ';' && *s != ',' && !is_ws((unsigned char)*s))
		return NULL;
	while (is_ws((unsigned char)*s))
		s++;
	if (*s == ';' || *s == ',')
		s++;
	while (is_ws((unsigned char)*s))
		s++;
	url = s;
	if (strncasecmp(s, "url", 3) == 0) {
		s += 3;
		while (is_ws((unsigned char)*s))
			s++;
		if (*s == '=') {
			s++;
			while (is_ws((unsigned char)*s))
				s++;
			url = s;
		}
	}
	if (url == s && (*s == '"' || *s == '\''))
		quote = *s++, url = s;
	n = quote ? strcspn(url, (char[]){quote, 0}) : strlen(url);
	return meta_url(x, url, n);
}

static void
on_meta(struct extract *x, const xmlChar **atts)
{
	const char *name = attr(atts, "name"), *he = attr(atts, "http-equiv");
	const char *content = attr(atts, "content");

	if (content == NULL)
		return;
	if (name != NULL && strcasecmp(name, "description") == 0 &&
	    !x->have_desc) {
		x->have_desc = true;
		xtext_add(&x->desc, content, strlen(content));
	} else if (name != NULL && strcasecmp(name, "robots") == 0 &&
	    !x->have_robots) {
		x->have_robots = true;
		xtext_add(&x->robots, content, strlen(content));
	} else if (he != NULL && strcasecmp(he, "refresh") == 0 &&
	    x->refresh == NULL) {
		x->refresh = refresh_target(x, content);
	}
}

/* --- the callbacks ------------------------------------------------------ */

static void
on_start(void *ctx, const xmlChar *tag, const xmlChar **atts)
{
	struct extract *x = ctx;
	const char *name = (const char *)tag, *v;

	if (strcmp(name, "svg") == 0 || strcmp(name, "math") == 0) {
		x->foreign++;
		return;
	}
	if (x->foreign > 0)
		return; /* SVG's and MathML's <title> and <a> are not HTML's */
	if (strcmp(name, "title") == 0) {
		if (x->title_state == XT_NONE && (x->o.what & EXTRACT_TITLE))
			x->title_state = XT_IN;
	} else if (strcmp(name, "a") == 0 || strcmp(name, "area") == 0) {
		x->open_link = -1;
		if ((x->o.what & EXTRACT_LINKS) &&
		    (v = attr(atts, "href")) != NULL)
			on_link(x, v, attr(atts, "rel"), name[1] == '\0');
	} else if (strcmp(name, "base") == 0) {
		char *u;

		if (x->base_seen || (v = attr(atts, "href")) == NULL)
			return;
		x->base_seen = true; /* the first base with an href decides */
		buf_reset(&x->tmp);
		if (xurl_link(x->doc_url, v, strlen(v), &x->tmp) == 0) {
			u = xstrdup(buf_cstr(&x->tmp));
			free(x->base);
			x->base = u;
		}
	} else if (!(x->o.what & EXTRACT_META)) {
		return;
	} else if (strcmp(name, "html") == 0 && x->lang == NULL) {
		/* The first <html> with a lang: libxml2 may have implied
		 * one before the document's own. */
		if ((v = attr(atts, "lang")) != NULL)
			x->lang = collapsed(v, EXTRACT_FIELD_CAP);
	} else if (strcmp(name, "link") == 0 && x->canonical == NULL) {
		if ((v = attr(atts, "rel")) != NULL &&
		    has_token(v, "canonical") &&
		    (v = attr(atts, "href")) != NULL)
			x->canonical = meta_url(x, v, strlen(v));
	} else if (strcmp(name, "meta") == 0) {
		on_meta(x, atts);
	}
}

static void
on_end(void *ctx, const xmlChar *tag)
{
	struct extract *x = ctx;
	const char *name = (const char *)tag;

	if (strcmp(name, "svg") == 0 || strcmp(name, "math") == 0) {
		if (x->foreign > 0)
			x->foreign--;
	} else if (x->foreign > 0) {
		return;
	} else if (strcmp(name, "title") == 0 && x->title_state == XT_IN) {
		x->title_state = XT_DONE;
	} else if (strcmp(name, "a") == 0) {
		x->open_link = -1;
	}
}

static void
on_text(void *ctx, const xmlChar *s, int n)
{
	struct extract *x = ctx;

	if (x->title_state == XT_IN)
		xtext_add(&x->title, (const char *)s, (size_t)n);
	if (x->open_link >= 0)
		xtext_add(
		    &x->links[x->open_link].text, (const char *)s, (size_t)n);
}

/* <script> and <style> content: not text. */
static void
on_cdata(void *ctx, const xmlChar *s, int n)
{
	(void)ctx, (void)s, (void)n;
}

static void
on_error(void *ctx, const char *msg, ...)
{
	(void)ctx, (void)msg;
}

void
xsax_open_parser(struct extract *x)
{
	htmlSAXHandler sax;
	htmlParserCtxtPtr c;

	memset(&sax, 0, sizeof(sax));
	sax.startElement = on_start;
	sax.endElement = on_end;
	sax.characters = on_text;
	sax.ignorableWhitespace = on_text;
	sax.cdataBlock = on_cdata;
	sax.warning = on_error;
	sax.error = on_error;
	sax.fatalError = on_error;
	xmem_enter(&x->mem, &x->step_peak);
	c = htmlCreatePushParserCtxt(
	    &sax, x, NULL, 0, NULL, XML_CHAR_ENCODING_UTF8);
	if (c != NULL)
		htmlCtxtUseOptions(c,
		    HTML_PARSE_RECOVER | HTML_PARSE_NOERROR |
		        HTML_PARSE_NOWARNING | HTML_PARSE_NONET |
		        HTML_PARSE_NODEFDTD | HTML_PARSE_IGNORE_ENC);
	if (c != NULL && c->dict != NULL && xmlDictSize(c->dict) == 0) {
		xmlDictFree(c->dict); /* see xmem_dict */
		c->dict = xmem_dict();
	}
	xmem_leave();
	if (c == NULL ||
	    c->dict == NULL) { /* libxml2 says NULL only for out-of-memory */
		fprintf(stderr, "fanoutd: out of memory for an HTML parser\n");
		abort();
	}
	x->ctxt = c;
}

void
xsax_close_parser(struct extract *x)
{
	if (x->ctxt == NULL)
		return;
	xmem_enter(&x->mem, &x->step_peak);
	htmlFreeParserCtxt(x->ctxt);
	xmem_leave();
	x->ctxt = NULL;
}
