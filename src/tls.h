/*
 * tls.h - OpenSSL set-up for both sides, which evhttp leaves to its user
 * (LIBEVENT-NOTES.md, TLS): the upstream client context (TLS >= 1.2,
 * verification against the system store or [upstream] ca_file /
 * ca_path, an optional client certificate), per-connection SNI and host
 * name checks against the URL's host, the listener's server context,
 * and a failed handshake explained in words.
 */
#ifndef FANOUTD_TLS_H
#define FANOUTD_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/ssl.h>

#include "config.h"

/* The upstream context from [upstream]; NULL with why on a bad file. */
SSL_CTX *tls_client_ctx(const struct config *cfg, char *why, size_t whylen);

/* An SSL for one upstream connection: SNI (unless host is an IP
 * literal) and verification against host, never the address. */
SSL *tls_client_ssl(SSL_CTX *ctx, const char *host, bool is_ip);

/* The listener context from [server] tls_cert / tls_key. */
SSL_CTX *tls_server_ctx(const struct config *cfg, char *why, size_t whylen);

/*
 * Why a certificate failed verification, in words: "certificate has
 * expired", "self-signed certificate", "host name mismatch", "unknown CA
 * (issuer not trusted)", ...; NULL for X509_V_OK.
 */
const char *tls_verify_reason(long verify_result);

/*
 * Why the handshake on ssl failed: the verify reason when verification
 * failed, else "handshake failure" and OpenSSL's reason for err (the
 * connection's last OpenSSL error, 0 if none). Written to buf.
 */
const char *tls_failure(SSL *ssl, unsigned long err, char *buf, size_t n);

#endif
