/*
 * preflight.h - every check start-up makes on a configuration before it
 * builds anything, in one place, so that `fanoutd -t`, start-up and a
 * reload (SIGHUP) refuse the same files with the same words: the files
 * the configuration names (auth_tokens_file, tls_cert and tls_key,
 * ca_file and ca_path, client_cert and client_key) are loaded as
 * start-up loads them, and each unix: listen address must have a
 * directory to live in. Binding is not tried (a running instance holds
 * its addresses while -t checks the file it will reload): a port in use
 * or a live unix socket is found at start-up only.
 */
#ifndef FANOUTD_PREFLIGHT_H
#define FANOUTD_PREFLIGHT_H

#include "config.h"

/*
 * Check what c names; path is the file it came from (NULL: built-in
 * defaults). Returns 0, or -1 with err naming the file, line, section
 * and key and what is wrong.
 */
int preflight_check(
    const struct config *c, const char *path, struct config_error *err);

/* Every warning a valid configuration deserves (config_warnings, and a
 * batch option's default above its cap: opts_warnings), one sentence
 * each through warn; returns how many. */
unsigned preflight_warnings(
    const struct config *c, void (*warn)(const char *msg));

#endif
