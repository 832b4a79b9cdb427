/*
 * notify.c - sd_notify messages (see notify.h).
 */
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "notify.h"
#include "util.h"

#ifdef HAVE_SYSTEMD
#include <systemd/sd-daemon.h>

static void
notify_send(const char *msg)
{
	if (sd_notify(0, msg) < 0)
		log_warn("sd_notify %s failed", msg);
}

static void
notify_watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	notify_send("WATCHDOG=1");
}

struct event *
notify_watchdog_new(struct event_base *base)
{
	uint64_t usec = 0;
	struct event *ev;
	struct timeval tv;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return NULL;
	tv = tv_us(usec /= 2);
	ev = event_new(base, -1, EV_PERSIST, notify_watchdog_cb, NULL);
	event_add(ev, &tv);
	notify_send("WATCHDOG=1");
	log_info("watchdog: pinging every %llu ms",
	    (unsigned long long)(usec / 1000));
	return ev;
}
#else
static void
notify_send(const char *msg)
{
	(void)msg;
}

struct event *
notify_watchdog_new(struct event_base *base)
{
	(void)base;
	return NULL;
}
#endif

void
notify_ready(void)
{
	notify_send("READY=1");
}

void
notify_reloading(void)
{
	notify_send("RELOADING=1");
}

void
notify_stopping(void)
{
	notify_send("STOPPING=1");
}
