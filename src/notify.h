/*
 * notify.h - the service manager protocol (sd_notify from libsystemd):
 * READY=1 once listening, RELOADING=1 / READY=1 around a reload,
 * STOPPING=1 when draining, WATCHDOG=1 from a loop timer at half of
 * WATCHDOG_USEC. Every call is a no-op outside systemd (no
 * NOTIFY_SOCKET) and when fanoutd was built without libsystemd.
 */
#ifndef FANOUTD_NOTIFY_H
#define FANOUTD_NOTIFY_H

#include <event2/event.h>

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);

/* When the watchdog is on, a persistent timer that pings it; NULL
 * otherwise. Free it with event_free. */
struct event *notify_watchdog_new(struct event_base *base);

#endif
