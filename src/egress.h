/*
 * egress.h - which addresses fanoutd may connect to (DESIGN.md §2
 * Egress policy). fanoutd resolves every name itself, checks every
 * address it got here, and connects only to a checked address, so DNS
 * rebinding cannot slip a denied address past the check.
 *
 * An address is denied when it, or an IPv4 address embedded in it
 * (IPv4-mapped ::ffff:a.b.c.d, IPv4-compatible ::a.b.c.d, NAT64
 * 64:ff9b::/96, 6to4 2002::/16, Teredo 2001::/32), falls in a deny range
 * and in no allow range: allow wins over deny. Denied by default:
 * link-local (169.254.0.0/16 with the cloud metadata address, fe80::/10,
 * fd00:ec2::254), unspecified (0.0.0.0/8, ::/128), multicast
 * (224.0.0.0/4, ff00::/8), broadcast and the reserved 240.0.0.0/4; an
 * allow range reopens one of these only when it lies inside it (names
 * it on purpose), so a broad "allow = 0.0.0.0/0" never reopens cloud
 * metadata. With deny_private also loopback, RFC 1918, CGNAT
 * 100.64.0.0/10 and fc00::/7. fanoutd's own listen addresses are denied
 * whatever allow says. Pure: no I/O.
 */
#ifndef FANOUTD_EGRESS_H
#define FANOUTD_EGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A range; IPv4 is held as IPv4-mapped IPv6 (::ffff:0:0/96). */
struct cidr {
	uint8_t addr[16];
	uint8_t bits;
};

/* An address:port fanoutd itself listens on (any: a wildcard listen,
 * which stands for every loopback address). */
struct egress_own {
	uint8_t addr[16];
	uint16_t port;
	bool any;
};

#define EGRESS_MAX_OWN 64

struct egress {
	struct cidr *deny; /* built-in ranges first, then [upstream] deny */
	size_t ndeny;
	size_t nbuiltin; /* deny[0..nbuiltin): the ranges denied by default */
	struct cidr *allow;
	size_t nallow;
	struct egress_own own[EGRESS_MAX_OWN];
	size_t nown;
};

/* "10.0.0.0/8", "fe80::/10", "192.0.2.7" (a /32), "::1" (a /128).
 * Host bits beyond the prefix are ignored. 0, or -1 when malformed. */
int egress_parse_cidr(const char *s, struct cidr *out);

/* Check a list of CIDRs separated by commas and blanks: 0, or -1 with
 * the first bad entry in bad. */
int egress_check_list(const char *list, char *bad, size_t badlen);

/* Build a policy. deny and allow are lists as above (validated). */
void egress_init(
    struct egress *e, bool deny_private, const char *deny, const char *allow);
void egress_free(struct egress *e);

/* Deny connections to addr:port, an address fanoutd listens on (16
 * bytes as IPv6; wildcard when any). */
void egress_add_own(
    struct egress *e, const uint8_t addr[16], uint16_t port, bool any);

struct sockaddr;

/* An AF_INET or AF_INET6 socket address as 16 bytes (IPv4 mapped) and a
 * port: 0, or -1 for any other family. */
int egress_from_sockaddr(
    const struct sockaddr *sa, uint8_t addr[16], uint16_t *port);

/*
 * May fanoutd connect to addr (16 bytes, IPv4 as ::ffff:a.b.c.d) on
 * port? false with a reason in why ("169.254.169.254 is in
 * 169.254.0.0/16 (link-local)").
 */
bool egress_allowed(const struct egress *e, const uint8_t addr[16],
    uint16_t port, char *why, size_t whylen);

#endif
