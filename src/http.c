/*
 * http.c - methods and request header fields (see http.h).
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "util.h"

static const char *const method_names[HM__COUNT] = {
    [HM_GET] = "GET",
    [HM_HEAD] = "HEAD",
    [HM_POST] = "POST",
    [HM_PUT] = "PUT",
    [HM_PATCH] = "PATCH",
    [HM_DELETE] = "DELETE",
    [HM_OPTIONS] = "OPTIONS",
};

static const char *const managed_fields[] = {"Content-Length",
    "Transfer-Encoding", "Connection", "Keep-Alive", "Upgrade", "TE", "Trailer",
    "Expect", "Proxy-Connection"};

int
http_method_parse(const char *s)
{
	int i;

	for (i = 0; i < HM__COUNT; i++)
		if (strcmp(s, method_names[i]) == 0)
			return i;
	return -1;
}

bool
http_method_idempotent(enum http_method m)
{
	return m != HM_POST && m != HM_PATCH;
}

bool
http_method_has_content(enum http_method m)
{
	return m == HM_POST || m == HM_PUT || m == HM_PATCH;
}

/* tchar (RFC 9110 §5.6.2). */
static bool
is_tchar(unsigned char c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

bool
http_field_name_valid(const char *name)
{
	size_t i;

	for (i = 0; name[i] != '\0'; i++)
		if (!is_tchar((unsigned char)name[i]))
			return false;
	return i > 0;
}

bool
http_field_value_valid(const char *value, size_t len)
{
	return strlen(value) == len && strpbrk(value, "\r\n") == NULL;
}

bool
http_field_managed(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(managed_fields); i++)
		if (strcasecmp(name, managed_fields[i]) == 0)
			return true;
	return false;
}
