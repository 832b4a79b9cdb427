/*
 * main.c - fanoutd's entry point: command line, configuration, signals,
 * and the one event loop that everything runs on.
 *
 * Start-up order follows the module stack of DESIGN.md §4, bottom up:
 * the engine (resolver, pool, fetcher, scheduler), then the server.
 * Shutdown runs it top down, so each module is freed after everything
 * that uses it. main talks to the engine's front and to the server,
 * nothing below them.
 */
#include <errno.h>
#include <stdbool.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "config.h"
#include "engine.h"
#include "job.h"
#include "log.h"
#include "notify.h"
#include "preflight.h"
#include "server.h"
#include "util.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "0.1.0"
#endif

struct daemon {
	struct config cfg;
	struct event_base *base;
	struct engine *engine;
	struct server *server;
	struct jobs *jobs;       /* NULL: the store could not be opened */
	unsigned draining;       /* drains still running: server, jobs */
	const char *config_path; /* NULL: built-in defaults */
	const char *listen_flag; /* --listen, which wins over the file */
	struct event *sigint;
	struct event *sigterm;
	struct event *sighup;
	struct event *watchdog;
};

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: fanoutd [-c FILE] [--listen ADDR] [-t] [--version] "
	    "[--help]\n"
	    "\n"
	    "  -c, --config FILE    read the INI configuration FILE (default:\n"
	    "                       " CONFIG_DEFAULT_PATH " when it\n"
	    "                       exists, else the built-in defaults)\n"
	    "  -l, --listen ADDR    listen on ADDR (ip:port, [ip6]:port or\n"
	    "                       unix:/path) instead of [server] listen\n"
	    "  -t, --test           check the configuration and exit\n"
	    "  -V, --version        print the version and exit\n"
	    "  -h, --help           print this help and exit\n");
}

static void
warn_stderr(const char *msg)
{
	fprintf(stderr, "fanoutd: warning: %s\n", msg);
}

static void
warn_log(const char *msg)
{
	log_warn("configuration: %s", msg);
}

static void
libevent_log(int severity, const char *msg)
{
	if (severity >= EVENT_LOG_ERR)
		log_error("libevent: %s", msg);
	else if (severity == EVENT_LOG_WARN)
		log_warn("libevent: %s", msg);
	else
		log_debug("libevent: %s", msg);
}

/* Lift the soft descriptor limit to the hard one: every in-flight
 * attempt holds a socket, and so does every caller. */
static void
raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
		log_warn(
		    "cannot raise the descriptor limit: %s", strerror(errno));
}

/* One of the drains (server, jobs) is over; the last ends the loop. */
static void
daemon_drained(struct daemon *d, const char *what)
{
	log_info("drained: %s", what);
	if (--d->draining == 0)
		event_base_loopexit(d->base, NULL);
}

static void
on_drained(void *arg)
{
	daemon_drained(arg, "every batch has ended");
}

static void
on_jobs_drained(void *arg)
{
	daemon_drained(arg, "every job's items are stored");
}

/* SIGTERM, SIGINT: drain; the second one stops at once. */
static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (engine_draining(d->engine)) {
		log_warn("signal %d again: stopping now", (int)sig);
		event_base_loopbreak(d->base);
		return;
	}
	notify_stopping();
	log_info("signal %d: draining (up to %llu ms for running batches)",
	    (int)sig, (unsigned long long)d->cfg.drain_timeout_ms);
	d->draining = d->jobs != NULL ? 2 : 1;
	server_drain(d->server, on_drained, d);
	if (d->jobs != NULL)
		jobs_drain(
		    d->jobs, d->cfg.drain_timeout_ms, on_jobs_drained, d);
}

/*
 * The configuration, read as start-up, `-t` and a reload all read it:
 * the file (NULL: none) over the built-in defaults, --listen over the
 * file, the relations between keys, then every file it names and every
 * unix socket directory (preflight.h). Returns 0, or -1 with err.
 */
static int
daemon_config(struct config *c, const char *path, const char *listen,
    struct config_error *err)
{
	char why[256];

	config_defaults(c);
	memset(err, 0, sizeof(*err));
	if (path != NULL && config_load_file(c, path, err) != 0)
		return -1;
	if (listen != NULL &&
	    config_set(c, "server", "listen", listen, why, sizeof(why)) != 0) {
		memset(err, 0, sizeof(*err));
		snprintf(err->file, sizeof(err->file), "--listen");
		snprintf(err->section, sizeof(err->section), "server");
		snprintf(err->key, sizeof(err->key), "listen");
		snprintf(err->message, sizeof(err->message), "%s", why);
		return -1;
	}
	if (config_check(c, err) != 0) {
		if (err->line > 0 && path != NULL)
			snprintf(err->file, sizeof(err->file), "%s", path);
		return -1;
	}
	return preflight_check(c, path, err);
}

static void
warn_loosened(const char *msg)
{
	log_warn("reload: %s", msg);
}

/* [server] cpu_list: the event loop on its CPUs, once every thread of
 * the start is running (a thread takes its creator's CPUs: the store's
 * and the extraction threads keep theirs). */
static int
pin_loop(const struct config *cfg)
{
	char list[64];
	int rc = cpus_apply(pthread_self(), &cfg->loop_cpus);

	if (!cfg->loop_cpus.on)
		return 0;
	cpus_format(&cfg->loop_cpus, list, sizeof(list));
	if (rc != 0) {
		log_error("[server] cpu_list %s: cannot run there: %s", list,
		    strerror(rc));
		return -1;
	}
	log_info("event loop on CPUs %s", list);
	return 0;
}

/* Settings that only a restart applies: say so rather than ignore. */
static void
reload_warn_restart(const struct config *old, const struct config *new)
{
	if (memcmp(old->listen, new->listen, sizeof(old->listen)) != 0 ||
	    old->unix_mode != new->unix_mode)
		log_warn("reload: [server] listen and unix_mode changes need a "
		         "restart");
	if (strcmp(old->tls_cert, new->tls_cert) != 0 ||
	    strcmp(old->tls_key, new->tls_key) != 0)
		log_warn("reload: [server] tls_cert / tls_key changes need a "
		         "restart");
	if (memcmp(old->nameservers, new->nameservers,
	        sizeof(old->nameservers)) != 0 ||
	    strcmp(old->ca_file, new->ca_file) != 0 ||
	    strcmp(old->ca_path, new->ca_path) != 0 ||
	    strcmp(old->client_cert, new->client_cert) != 0 ||
	    strcmp(old->client_key, new->client_key) != 0 ||
	    old->tls_verify != new->tls_verify ||
	    old->dns_cache_ms != new->dns_cache_ms)
		log_warn("reload: [upstream] nameservers, dns_cache_ms and TLS "
		         "changes need a restart");
	if (strcmp(old->jobs_dir, new->jobs_dir) != 0 ||
	    old->jobs_max_active != new->jobs_max_active ||
	    old->jobs_max_items != new->jobs_max_items ||
	    old->jobs_max_store_bytes != new->jobs_max_store_bytes ||
	    old->jobs_max_body_bytes_cap != new->jobs_max_body_bytes_cap ||
	    old->jobs_ttl_s != new->jobs_ttl_s ||
	    old->jobs_durable != new->jobs_durable ||
	    memcmp(&old->store_cpus, &new->store_cpus,
	        sizeof(old->store_cpus)) != 0)
		log_warn("reload: [jobs] changes need a restart");
	if (memcmp(&old->loop_cpus, &new->loop_cpus, sizeof(old->loop_cpus)) !=
	    0)
		log_warn("reload: [server] cpu_list changes need a restart");
	if (strcmp(old->shared, new->shared) != 0 ||
	    old->shared_concurrency != new->shared_concurrency)
		log_warn("reload: [limits] shared and shared_concurrency "
		         "changes need a restart (rates, caps, "
		         "shared_timeout_ms and shared_lease_ms apply now)");
}

/*
 * SIGHUP: read the file again. On an error the old configuration stays.
 * Otherwise the new values replace the old in place (every module holds
 * a pointer to d->cfg) and the modules that cache them are told.
 * Running batches keep the options they started with.
 */
static void
on_reload_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct config_error err;
	struct config next;
	char msg[600], why[256];

	notify_reloading();
	if (daemon_config(&next, d->config_path, d->listen_flag, &err) != 0) {
		config_error_format(&err, msg, sizeof(msg));
		log_error("reload: configuration error, keeping the old one: "
		          "%s",
		    msg);
		notify_ready();
		return;
	}
	reload_warn_restart(&d->cfg, &next);
	config_loosened(&d->cfg, &next, warn_loosened);
	preflight_warnings(&next, warn_log);
	d->cfg = next;
	log_set_level((enum log_level)d->cfg.log_level);
	engine_reload(d->engine);
	if (server_reload(d->server, why, sizeof(why)) != 0)
		log_error("reload: %s; keeping the old tokens", why);
	log_info("reload: configuration %s applied (limits and egress now, "
	         "batch defaults to new batches)",
	    d->config_path ? d->config_path : "(built-in defaults)");
	notify_ready();
}

/* Build the daemon on d->cfg; 0, or -1 after logging why. */
static int
daemon_start(struct daemon *d)
{
	struct event_config *ecfg;
	struct sockaddr_storage self[CONFIG_MAX_LISTEN];
	char why[256], jobs_why[256] = "";

	/* Precise timers (timerfd): rate limits arm µs-exact wake-ups, and
	 * epoll's millisecond rounding would lose a token at every one.
	 * The epoll changelist folds the enable/disable pairs evhttp makes
	 * per request into one epoll_ctl per loop turn: 6 calls per fetch
	 * fell to 2 (strace -c), 100k fetches 4.4 s -> 3.1 s. Its caveat,
	 * fds cloned with dup(), does not apply: fanoutd never dups. */
	if ((ecfg = event_config_new()) != NULL) {
		event_config_set_flag(ecfg,
		    EVENT_BASE_FLAG_PRECISE_TIMER |
		        EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST);
		d->base = event_base_new_with_config(ecfg);
		event_config_free(ecfg);
	}
	if (d->base == NULL) {
		log_error("cannot create the event loop");
		return -1;
	}
	d->engine = engine_new(d->base, &d->cfg, why, sizeof(why));
	if (d->engine == NULL) {
		log_error("%s", why);
		return -1;
	}
	if ((d->jobs = jobs_open(d->base, d->engine, &d->cfg, jobs_why,
	         sizeof(jobs_why))) == NULL)
		log_warn("jobs are unavailable: %s", jobs_why);
	d->server = server_new(
	    d->base, d->engine, d->jobs, jobs_why, &d->cfg, why, sizeof(why));
	if (d->server == NULL) {
		log_error("%s", why);
		return -1;
	}
	/* Egress denies what fanoutd itself listens on. */
	engine_set_self(d->engine, self,
	    server_bound_addrs(d->server, self, CONFIG_MAX_LISTEN));
	d->sigint = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	d->sigterm = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	d->sighup = evsignal_new(d->base, SIGHUP, on_reload_signal, d);
	evsignal_add(d->sigint, NULL);
	evsignal_add(d->sigterm, NULL);
	evsignal_add(d->sighup, NULL);
	d->watchdog = notify_watchdog_new(d->base);
	return 0;
}

static void
daemon_stop(struct daemon *d)
{
	server_close_readers(d->server);
	if (d->jobs != NULL)
		jobs_close(d->jobs);
	server_free(d->server);
	engine_free(d->engine);
	if (d->sigint)
		event_free(d->sigint);
	if (d->sigterm)
		event_free(d->sigterm);
	if (d->sighup)
		event_free(d->sighup);
	if (d->watchdog)
		event_free(d->watchdog);
	if (d->base)
		event_base_free(d->base);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"listen", required_argument, NULL, 'l'},
	    {"test", no_argument, NULL, 't'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	static struct daemon d;
	const char *config_path = NULL, *listen = NULL;
	struct config_error err;
	char msg[600];
	int c, test = 0;

	while ((c = getopt_long(argc, argv, "c:l:tVh", longopts, NULL)) != -1) {
		switch (c) {
		case 'c':
			config_path = optarg;
			break;
		case 'l':
			listen = optarg;
			break;
		case 't':
			test = 1;
			break;
		case 'V':
			printf("fanoutd %s\n", PACKAGE_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(
		    stderr, "fanoutd: unexpected argument: %s\n", argv[optind]);
		usage(stderr);
		return 2;
	}

	/* DESIGN.md §3: the default file, when there is one; a daemon
	 * with no file at all runs on the built-in defaults. */
	if (config_path == NULL && access(CONFIG_DEFAULT_PATH, F_OK) == 0)
		config_path = CONFIG_DEFAULT_PATH;
	log_init();
	if (daemon_config(&d.cfg, config_path, listen, &err) != 0) {
		config_error_format(&err, msg, sizeof(msg));
		fprintf(stderr, "fanoutd: configuration error: %s\n", msg);
		return 1;
	}
	if (test) {
		preflight_warnings(&d.cfg, warn_stderr);
		printf("fanoutd: configuration %s is valid\n",
		    config_path ? config_path : "(built-in defaults)");
		return 0;
	}

	log_set_level((enum log_level)d.cfg.log_level);
	preflight_warnings(&d.cfg, warn_log);
	event_set_log_callback(libevent_log);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	if (daemon_start(&d) != 0) {
		daemon_stop(&d);
		return 1;
	}
	d.config_path = config_path;
	d.listen_flag = listen;
	if (pin_loop(&d.cfg) != 0) {
		daemon_stop(&d);
		return 1;
	}
	notify_ready();
	log_info("fanoutd %s ready", PACKAGE_VERSION);
	event_base_dispatch(d.base);
	daemon_stop(&d);
	log_info("fanoutd stopped");
	return 0;
}
