/*
 * tls.c - OpenSSL contexts and handshake failures in words (see tls.h).
 */
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "log.h"
#include "tls.h"

SSL_CTX *
tls_client_ctx(const struct config *cfg, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
	const char *file = cfg->ca_file[0] ? cfg->ca_file : NULL;
	const char *path = cfg->ca_path[0] ? cfg->ca_path : NULL;

	if (ctx == NULL) {
		snprintf(why, whylen, "cannot create the TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(
	    ctx, cfg->tls_verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
	if (file != NULL || path != NULL) {
		if (SSL_CTX_load_verify_locations(ctx, file, path) != 1) {
			snprintf(why, whylen,
			    "[upstream] ca_file / ca_path: cannot load %s",
			    file ? file : path);
			goto fail;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		log_warn("tls: cannot load the system trust store");
	}
	if (cfg->client_cert[0] != '\0' &&
	    (SSL_CTX_use_certificate_chain_file(ctx, cfg->client_cert) != 1 ||
	        SSL_CTX_use_PrivateKey_file(
	            ctx, cfg->client_key, SSL_FILETYPE_PEM) != 1 ||
	        SSL_CTX_check_private_key(ctx) != 1)) {
		snprintf(why, whylen,
		    "[upstream] client_cert / client_key: cannot load %s with "
		    "%s",
		    cfg->client_cert, cfg->client_key);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	ERR_clear_error();
	return NULL;
}

SSL *
tls_client_ssl(SSL_CTX *ctx, const char *host, bool is_ip)
{
	SSL *ssl = SSL_new(ctx);

	if (ssl == NULL)
		return NULL;
	if (is_ip) {
		if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), host) !=
		    1)
			goto fail;
	} else if (SSL_set_tlsext_host_name(ssl, host) != 1 ||
	    SSL_set1_host(ssl, host) != 1) {
		goto fail;
	}
	return ssl;
fail:
	SSL_free(ssl);
	return NULL;
}

SSL_CTX *
tls_server_ctx(const struct config *cfg, char *why, size_t whylen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (ctx == NULL) {
		snprintf(why, whylen, "cannot create the TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_cert) != 1 ||
	    SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_key, SSL_FILETYPE_PEM) !=
	        1 ||
	    SSL_CTX_check_private_key(ctx) != 1) {
		snprintf(why, whylen,
		    "[server] tls_cert / tls_key: cannot load %s with %s",
		    cfg->tls_cert, cfg->tls_key);
		SSL_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return ctx;
}

const char *
tls_verify_reason(long v)
{
	switch (v) {
	case X509_V_OK:
		return NULL;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return "certificate has expired";
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return "certificate is not yet valid";
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
		return "self-signed certificate";
	case X509_V_ERR_HOSTNAME_MISMATCH:
		return "host name mismatch (the certificate is for another "
		       "name)";
	case X509_V_ERR_IP_ADDRESS_MISMATCH:
		return "host name mismatch (the certificate is for another "
		       "address)";
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
		return "unknown CA (the issuer is not trusted)";
	case X509_V_ERR_CERT_REVOKED:
		return "certificate is revoked";
	case X509_V_ERR_INVALID_PURPOSE:
		return "certificate is not for a TLS server";
	default:
		return X509_verify_cert_error_string(v);
	}
}

const char *
tls_failure(SSL *ssl, unsigned long err, char *buf, size_t n)
{
	const char *reason = tls_verify_reason(SSL_get_verify_result(ssl));
	char tmp[256];

	if (reason != NULL) {
		snprintf(buf, n, "%s", reason);
	} else if (err != 0) {
		const char *r = ERR_reason_error_string(err);

		if (r == NULL) {
			ERR_error_string_n(err, tmp, sizeof(tmp));
			r = tmp;
		}
		snprintf(buf, n, "handshake failure: %s", r);
	} else {
		snprintf(buf, n, "handshake failure");
	}
	return buf;
}
