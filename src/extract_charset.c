/*
 * extract_charset.c - which character set an HTML response is in, and
 * its decoding to UTF-8 (see extract_int.h). The order is the HTML
 * standard's (§13.2.3.2, "determining the character encoding"): a BOM,
 * then the HTTP charset parameter, then the prescan of the first 1024
 * bytes for <meta charset>, then UTF-8 (fanoutd's fallback, where a
 * browser would guess from its locale). Labels are the WHATWG Encoding
 * standard's for the encodings pages still use; glibc's iconv decodes
 * the legacy ones.
 */
#include <errno.h>
#include <string.h>

#include "extract_int.h"

/* WHATWG labels (§4.2) and the canonical name each stands for. */
static const struct {
	const char *label;
	const char *name;
} labels[] = {
    {"utf-8", "utf-8"},
    {"utf8", "utf-8"},
    {"unicode-1-1-utf-8", "utf-8"},
    {"unicode11utf8", "utf-8"},
    {"unicode20utf8", "utf-8"},
    {"x-unicode20utf8", "utf-8"},
    /* windows-1252 answers for latin1 and ASCII, as in every browser. */
    {"windows-1252", "windows-1252"},
    {"cp1252", "windows-1252"},
    {"x-cp1252", "windows-1252"},
    {"iso-8859-1", "windows-1252"},
    {"iso8859-1", "windows-1252"},
    {"iso88591", "windows-1252"},
    {"iso_8859-1", "windows-1252"},
    {"iso_8859-1:1987", "windows-1252"},
    {"latin1", "windows-1252"},
    {"l1", "windows-1252"},
    {"ascii", "windows-1252"},
    {"us-ascii", "windows-1252"},
    {"ansi_x3.4-1968", "windows-1252"},
    {"cp819", "windows-1252"},
    {"ibm819", "windows-1252"},
    {"csisolatin1", "windows-1252"},
    {"iso-ir-100", "windows-1252"},
    {"iso-8859-2", "iso-8859-2"},
    {"iso8859-2", "iso-8859-2"},
    {"iso_8859-2", "iso-8859-2"},
    {"latin2", "iso-8859-2"},
    {"l2", "iso-8859-2"},
    {"iso-8859-3", "iso-8859-3"},
    {"latin3", "iso-8859-3"},
    {"iso-8859-4", "iso-8859-4"},
    {"latin4", "iso-8859-4"},
    {"iso-8859-5", "iso-8859-5"},
    {"iso8859-5", "iso-8859-5"},
    {"cyrillic", "iso-8859-5"},
    {"iso-8859-6", "iso-8859-6"},
    {"arabic", "iso-8859-6"},
    {"iso-8859-7", "iso-8859-7"},
    {"greek", "iso-8859-7"},
    {"iso-8859-8", "iso-8859-8"},
    {"hebrew", "iso-8859-8"},
    {"iso-8859-10", "iso-8859-10"},
    {"latin6", "iso-8859-10"},
    {"iso-8859-13", "iso-8859-13"},
    {"iso-8859-14", "iso-8859-14"},
    {"iso-8859-15", "iso-8859-15"},
    {"iso8859-15", "iso-8859-15"},
    {"iso_8859-15", "iso-8859-15"},
    {"latin9", "iso-8859-15"},
    {"l9", "iso-8859-15"},
    {"iso-8859-16", "iso-8859-16"},
    /* WHATWG maps these two ISO labels onto their Windows supersets. */
    {"iso-8859-9", "windows-1254"},
    {"latin5", "windows-1254"},
    {"iso-8859-11", "windows-874"},
    {"tis-620", "windows-874"},
    {"windows-874", "windows-874"},
    {"windows-1250", "windows-1250"},
    {"cp1250", "windows-1250"},
    {"windows-1251", "windows-1251"},
    {"cp1251", "windows-1251"},
    {"x-cp1251", "windows-1251"},
    {"windows-1253", "windows-1253"},
    {"windows-1254", "windows-1254"},
    {"windows-1255", "windows-1255"},
    {"windows-1256", "windows-1256"},
    {"windows-1257", "windows-1257"},
    {"windows-1258", "windows-1258"},
    {"koi8-r", "koi8-r"},
    {"koi8_r", "koi8-r"},
    {"koi8", "koi8-r"},
    {"koi", "koi8-r"},
    {"cskoi8r", "koi8-r"},
    {"koi8-u", "koi8-u"},
    {"koi8-ru", "koi8-u"},
    {"ibm866", "ibm866"},
    {"cp866", "ibm866"},
    {"866", "ibm866"},
    {"macintosh", "macintosh"},
    {"mac", "macintosh"},
    {"x-mac-roman", "macintosh"},
    {"shift_jis", "shift_jis"},
    {"shift-jis", "shift_jis"},
    {"sjis", "shift_jis"},
    {"x-sjis", "shift_jis"},
    {"ms_kanji", "shift_jis"},
    {"ms932", "shift_jis"},
    {"windows-31j", "shift_jis"},
    {"csshiftjis", "shift_jis"},
    {"euc-jp", "euc-jp"},
    {"x-euc-jp", "euc-jp"},
    {"cseucpkdfmtjapanese", "euc-jp"},
    {"iso-2022-jp", "iso-2022-jp"},
    {"csiso2022jp", "iso-2022-jp"},
    /* WHATWG decodes gbk (and gb2312) with the gb18030 decoder. */
    {"gbk", "gbk"},
    {"gb2312", "gbk"},
    {"x-gbk", "gbk"},
    {"chinese", "gbk"},
    {"csgb2312", "gbk"},
    {"gb_2312", "gbk"},
    {"gb_2312-80", "gbk"},
    {"iso-ir-58", "gbk"},
    {"gb18030", "gb18030"},
    {"big5", "big5"},
    {"big5-hkscs", "big5"},
    {"cn-big5", "big5"},
    {"csbig5", "big5"},
    {"x-x-big5", "big5"},
    {"euc-kr", "euc-kr"},
    {"ks_c_5601-1987", "euc-kr"},
    {"korean", "euc-kr"},
    {"windows-949", "euc-kr"},
    {"cseuckr", "euc-kr"},
    {"utf-16le", "utf-16le"},
    {"utf-16", "utf-16le"},
    {"ucs-2", "utf-16le"},
    {"unicode", "utf-16le"},
    {"utf-16be", "utf-16be"},
    {"unicodefffe", "utf-16be"},
    {"x-user-defined", "x-user-defined"},
};

/* Canonical name -> glibc iconv's name, where they differ. */
static const struct {
	const char *name;
	const char *iconv;
} iconv_names[] = {
    {"windows-1252", "CP1252"},
    {"windows-874", "CP874"},
    {"windows-1250", "CP1250"},
    {"windows-1251", "CP1251"},
    {"windows-1253", "CP1253"},
    {"windows-1254", "CP1254"},
    {"windows-1255", "CP1255"},
    {"windows-1256", "CP1256"},
    {"windows-1257", "CP1257"},
    {"windows-1258", "CP1258"},
    {"ibm866", "CP866"},
    {"macintosh", "MACINTOSH"},
    {"shift_jis", "CP932"},
    {"gbk", "GB18030"},
    {"gb18030", "GB18030"},
    {"big5", "BIG5-HKSCS"},
    {"euc-kr", "CP949"},
    {"x-user-defined", "CP1252"},
};

static bool
is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static unsigned char
lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

const char *
xcs_lookup(const char *label, size_t n)
{
	size_t i, j;

	while (n > 0 && is_ws((unsigned char)*label))
		label++, n--;
	while (n > 0 && is_ws((unsigned char)label[n - 1]))
		n--;
	for (i = 0; i < sizeof(labels) / sizeof(labels[0]); i++) {
		if (strlen(labels[i].label) != n)
			continue;
		for (j = 0; j < n; j++)
			if (lower((unsigned char)label[j]) !=
			    (unsigned char)labels[i].label[j])
				break;
		if (j == n)
			return labels[i].name;
	}
	return NULL;
}

const char *
xcs_from_content_type(const char *ct)
{
	const char *p, *v;
	size_t n;

	if (ct == NULL)
		return NULL;
	for (p = strchr(ct, ';'); p != NULL; p = strchr(p + 1, ';')) {
		v = p + 1;
		while (is_ws((unsigned char)*v))
			v++;
		if (strncasecmp(v, "charset", 7) != 0)
			continue;
		v += 7;
		while (is_ws((unsigned char)*v))
			v++;
		if (*v++ != '=')
			continue;
		while (is_ws((unsigned char)*v))
			v++;
		if (*v == '"') {
			v++;
			n = strcspn(v, "\"");
		} else {
			n = strcspn(v, "; \t");
		}
		return xcs_lookup(v, n);
	}
	return NULL;
}

const char *
xcs_bom(const unsigned char *p, size_t n, size_t *len)
{
	if (n >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
		*len = 3;
		return "utf-8";
	}
	if (n >= 2 && p[0] == 0xFE && p[1] == 0xFF) {
		*len = 2;
		return "utf-16be";
	}
	if (n >= 2 && p[0] == 0xFF && p[1] == 0xFE) {
		*len = 2;
		return "utf-16le";
	}
	return NULL;
}

/* --- the prescan, HTML §13.2.3.2 ------------------------------------- */

struct scan {
	const unsigned char *p;
	size_t n, pos;
};

struct attr {
	char name[64], value[256];
	size_t nlen, vlen;
};

static void
put(char *dst, size_t *len, size_t cap, unsigned char c)
{
	if (*len + 1 < cap)
		dst[(*len)++] = (char)lower(c);
	dst[*len] = '\0';
}

/* "Get an attribute": false when there is none (at '>') or the window
 * ends first. */
static bool
get_attr(struct scan *s, struct attr *a)
{
	unsigned char q;

	a->nlen = a->vlen = 0;
	a->name[0] = a->value[0] = '\0';
	while (s->pos < s->n && (is_ws(s->p[s->pos]) || s->p[s->pos] == '/'))
		s->pos++;
	if (s->pos >= s->n || s->p[s->pos] == '>')
		return false;
	for (;; s->pos++) {
		if (s->pos >= s->n)
			return false;
		q = s->p[s->pos];
		if (q == '=' && a->nlen > 0)
			break;
		if (is_ws(q)) {
			while (s->pos < s->n && is_ws(s->p[s->pos]))
				s->pos++;
			if (s->pos >= s->n || s->p[s->pos] != '=')
				return s->pos < s->n;
			break;
		}
		if (q == '/' || q == '>')
			return true;
		put(a->name, &a->nlen, sizeof(a->name), q);
	}
	s->pos++; /* the '=' */
	while (s->pos < s->n && is_ws(s->p[s->pos]))
		s->pos++;
	if (s->pos >= s->n)
		return false;
	q = s->p[s->pos];
	if (q == '"' || q == '\'') {
		for (s->pos++; s->pos < s->n && s->p[s->pos] != q; s->pos++)
			put(a->value, &a->vlen, sizeof(a->value), s->p[s->pos]);
		if (s->pos >= s->n)
			return false;
		s->pos++;
		return true;
	}
	if (q == '>')
		return true;
	for (; s->pos < s->n; s->pos++) {
		if (is_ws(s->p[s->pos]) || s->p[s->pos] == '>')
			return true;
		put(a->value, &a->vlen, sizeof(a->value), s->p[s->pos]);
	}
	return false;
}

/* HTML §2.5.x "extracting a character encoding from a meta element":
 * the charset=... inside a content attribute. */
static const char *
charset_in_content(const char *c)
{
	const char *p = c, *v;
	size_t n;

	while ((p = strstr(p, "charset")) != NULL) {
		p += 7;
		while (is_ws((unsigned char)*p))
			p++;
		if (*p != '=')
			continue;
		p++;
		while (is_ws((unsigned char)*p))
			p++;
		if (*p == '"' || *p == '\'') {
			v = strchr(p + 1, *p);
			if (v == NULL)
				return NULL;
			return xcs_lookup(p + 1, (size_t)(v - p - 1));
		}
		n = strcspn(p, " \t\n\f\r;");
		return n ? xcs_lookup(p, n) : NULL;
	}
	return NULL;
}

/* The attributes of a <meta> (s is past "<meta"): its encoding, or
 * NULL. */
static const char *
meta_charset(struct scan *s)
{
	struct attr a;
	bool got_pragma = false, seen_he = false, seen_ct = false,
	     seen_cs = false;
	int need_pragma = -1; /* -1 null, 0 false, 1 true */
	const char *cs = NULL;

	while (get_attr(s, &a)) {
		if (strcmp(a.name, "http-equiv") == 0 && !seen_he) {
			seen_he = true;
			got_pragma = strcmp(a.value, "content-type") == 0;
		} else if (strcmp(a.name, "content") == 0 && !seen_ct) {
			seen_ct = true;
			if (cs == NULL && (cs = charset_in_content(a.value)))
				need_pragma = 1;
		} else if (strcmp(a.name, "charset") == 0 && !seen_cs) {
			seen_cs = true;
			cs = xcs_lookup(a.value, a.vlen);
			need_pragma = 0;
		}
	}
	if (need_pragma == -1 || (need_pragma == 1 && !got_pragma) ||
	    cs == NULL)
		return NULL;
	if (strncmp(cs, "utf-16", 6) == 0)
		return "utf-8";
	if (strcmp(cs, "x-user-defined") == 0)
		return "windows-1252";
	return cs;
}

static bool
at(const struct scan *s, const char *lit)
{
	size_t i, n = strlen(lit);

	if (s->n - s->pos < n)
		return false;
	for (i = 0; i < n; i++)
		if (lower(s->p[s->pos + i]) != (unsigned char)lit[i])
			return false;
	return true;
}

static bool
is_alpha(unsigned char c)
{
	return lower(c) >= 'a' && lower(c) <= 'z';
}

/* Past a tag's name and its attributes (s is at its name). */
static void
skip_tag(struct scan *s)
{
	struct attr a;

	while (s->pos < s->n && !is_ws(s->p[s->pos]) && s->p[s->pos] != '>')
		s->pos++;
	while (get_attr(s, &a))
		;
}

const char *
xcs_prescan(const unsigned char *p, size_t n)
{
	struct scan s = {p, n, 0};
	const unsigned char *e;
	const char *cs;

	while (s.pos < s.n) {
		if (at(&s, "<!--")) {
			s.pos += 2; /* "<!-->" ends where it begins */
			e = memmem(p + s.pos, n - s.pos, "-->", 3);
			if (e == NULL)
				return NULL;
			s.pos = (size_t)(e - p) + 2; /* at its '>' */
		} else if (at(&s, "<meta") && s.n - s.pos > 5 &&
		    (is_ws(p[s.pos + 5]) || p[s.pos + 5] == '/')) {
			s.pos += 5;
			if ((cs = meta_charset(&s)) != NULL)
				return cs;
		} else if (p[s.pos] == '<' && s.n - s.pos > 1 &&
		    (is_alpha(p[s.pos + 1]) ||
		        (p[s.pos + 1] == '/' && s.n - s.pos > 2 &&
		            is_alpha(p[s.pos + 2])))) {
			s.pos += p[s.pos + 1] == '/' ? 2 : 1;
			skip_tag(&s);
		} else if (at(&s, "<!") || at(&s, "</") || at(&s, "<?")) {
			e = memchr(p + s.pos, '>', n - s.pos);
			if (e == NULL)
				return NULL;
			s.pos = (size_t)(e - p);
		}
		s.pos++;
	}
	return NULL;
}

/* --- decoding -------------------------------------------------------- */

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

void
xdec_open(struct xdec *d, const char *name)
{
	const char *in = name;
	size_t i;

	memset(d, 0, sizeof(*d));
	d->cd = (iconv_t)-1;
	d->utf8 = true;
	if (name == NULL || strcmp(name, "utf-8") == 0)
		return;
	for (i = 0; i < sizeof(iconv_names) / sizeof(iconv_names[0]); i++)
		if (strcmp(iconv_names[i].name, name) == 0)
			in = iconv_names[i].iconv;
	d->cd = iconv_open("UTF-8", in);
	d->utf8 = d->cd == (iconv_t)-1;
}

void
xdec_close(struct xdec *d)
{
	if (d->cd != (iconv_t)-1)
		iconv_close(d->cd);
	d->cd = (iconv_t)-1;
}

/* The UTF-8 sequence at p[0..n) (Unicode §3.9 table 3-7: no overlongs,
 * surrogates or values past U+10FFFF): its length when valid; 0 when
 * invalid, with *bad the bytes of its maximal subpart (what one U+FFFD
 * replaces, as the WHATWG decoder does); -1 when it is a valid
 * beginning cut short by n (*bad: the n bytes). NUL counts as invalid:
 * libxml2 stops at it. */
static int
utf8_seq(const unsigned char *p, size_t n, size_t *bad)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	int len, i;

	*bad = 1;
	if (c < 0x80)
		return c == 0 ? 0 : 1;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F;
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F;
	for (i = 1; i < len; i++) {
		*bad = (size_t)i;
		if ((size_t)i >= n)
			return -1;
		if (p[i] < lo || p[i] > hi)
			return 0;
		lo = 0x80, hi = 0xBF;
	}
	return len;
}

/* Validate p[0..n) into out; an incomplete tail goes to d->pend. */
static void
utf8_run(struct xdec *d, const unsigned char *p, size_t n, bool last,
    struct buf *out)
{
	size_t i = 0, run = 0, bad;
	int len;

	buf_reserve(out, n + n / 2);
	while (i < n) {
		if (p[i] - 1u < 0x7F) { /* 0x01..0x7F */
			i++;
			continue;
		}
		len = utf8_seq(p + i, n - i, &bad);
		if (len == -1 && !last) {
			buf_add(out, p + run, i - run);
			memcpy(d->pend, p + i, n - i);
			d->npend = n - i;
			return;
		}
		if (len <= 0) {
			buf_add(out, p + run, i - run);
			buf_add(out, replacement, 3);
			i += bad;
			run = i;
			continue;
		}
		i += (size_t)len;
	}
	buf_add(out, p + run, i - run);
}

/* iconv p[0..n) into out; EILSEQ is U+FFFD for one byte, EINVAL (cut
 * short) keeps the tail in d->pend. */
static void
iconv_run(struct xdec *d, const unsigned char *p, size_t n, bool last,
    struct buf *out)
{
	char *in = (char *)p, *o;
	size_t inleft = n, oleft;

	while (inleft > 0) {
		buf_reserve(out, inleft * 4 + 16);
		o = out->data + out->len;
		oleft = out->cap - out->len - 1;
		if (iconv(d->cd, &in, &inleft, &o, &oleft) != (size_t)-1) {
			out->len = (size_t)(o - out->data);
			break;
		}
		out->len = (size_t)(o - out->data);
		if (errno == E2BIG)
			continue;
		if (errno == EINVAL && !last && inleft < sizeof(d->pend)) {
			memcpy(d->pend, in, inleft);
			d->npend = inleft;
			break;
		}
		buf_add(out, replacement, 3); /* EILSEQ, or cut short */
		in++, inleft--;
	}
	if (last) { /* a stateful encoding's shift back to its start */
		buf_reserve(out, 16);
		o = out->data + out->len;
		oleft = out->cap - out->len - 1;
		iconv(d->cd, NULL, NULL, &o, &oleft);
		out->len = (size_t)(o - out->data);
	}
	out->data[out->len] = '\0';
}

/* NUL (iconv passes it through) as U+FFFD, from out[from..). */
static void
replace_nul(struct buf *out, size_t from)
{
	struct buf tmp = BUF_INIT;
	size_t i;

	if (memchr(out->data + from, '\0', out->len - from) == NULL)
		return;
	for (i = from; i < out->len; i++)
		if (out->data[i] == '\0')
			buf_add(&tmp, replacement, 3);
		else
			buf_addc(&tmp, out->data[i]);
	out->len = from;
	buf_add(out, tmp.data, tmp.len);
	buf_free(&tmp);
}

/* One decoder step over p[0..n). */
static void
step(struct xdec *d, const unsigned char *p, size_t n, bool last,
    struct buf *out)
{
	if (d->utf8)
		utf8_run(d, p, n, last, out);
	else
		iconv_run(d, p, n, last, out);
}

void
xdec_run(struct xdec *d, const unsigned char *p, size_t n, bool last,
    struct buf *out)
{
	unsigned char joined[2 * sizeof(d->pend)];
	size_t from = out->len, k, take;

	if (p == NULL)
		p = joined, n = 0; /* the end of the input */

	/* A sequence left incomplete by the last call goes first, with a
	 * few bytes of this one: decoded, or left pending again. */
	while (d->npend > 0 && n > 0) {
		k = d->npend;
		take = n < sizeof(d->pend) ? n : sizeof(d->pend);
		memcpy(joined, d->pend, k);
		memcpy(joined + k, p, take);
		d->npend = 0;
		step(d, joined, k + take, last && take == n, out);
		p += take;
		n -= take;
	}
	if (d->npend > 0 && last) {
		k = d->npend;
		memcpy(joined, d->pend, k);
		d->npend = 0;
		step(d, joined, k, true, out);
	} else if (n > 0 || last) {
		step(d, p, n, last, out);
	}
	if (!d->utf8)
		replace_nul(out, from);
}
