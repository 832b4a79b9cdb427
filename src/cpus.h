/*
 * cpus.h - CPU lists ("0-3,6", as taskset(1) -c and Redis's
 * server_cpulist take them) and pinning a thread to one
 * (sched_setaffinity(2)): [server] cpu_list keeps the event loop on its
 * CPUs and [jobs] store_cpu_list the job store's threads on theirs, so
 * that on a small machine the store's disk work does not run on, and
 * evict the caches of, the CPU the loop needs.
 */
#ifndef FANOUTD_CPUS_H
#define FANOUTD_CPUS_H

#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stddef.h>

struct cpus {
	cpu_set_t set;
	bool on; /* false: the empty list, no pinning */
};

/*
 * Parse a list of CPU numbers and ranges separated by commas ("0",
 * "0-3,6"; spaces allowed around each), each below CPU_SETSIZE (1024)
 * and this machine's configured CPUs. "" leaves out->on false. -1 with
 * why (naming the bad entry) on anything else.
 */
int cpus_parse(const char *s, struct cpus *out, char *why, size_t whylen);

/* "0-3,6" for c (for logs), into out (at least 64 bytes useful). */
void cpus_format(const struct cpus *c, char *out, size_t outlen);

/* Pin thread t to c's CPUs; 0, or an errno value (EINVAL: none of them
 * is allowed to this process). Does nothing when c is off. */
int cpus_apply(pthread_t t, const struct cpus *c);

#endif
