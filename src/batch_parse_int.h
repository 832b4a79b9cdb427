/*
 * batch_parse_int.h - the parts of batch_parse.c that a job's streaming
 * parse (batch_parse_job.c) shares with it, and no one else uses.
 */
#ifndef FANOUTD_BATCH_PARSE_INT_H
#define FANOUTD_BATCH_PARSE_INT_H

#include <jansson.h>

#include "batch_parse.h"

/* Fill err (code, printf-style message); returns -1. */
int batch_perr(struct parse_error *err, enum req_err code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The request but its items: *spec zeroed then given its options and
 * format (query string, Accept), *body past a byte-order mark, *json
 * whether the body is JSON (else a URL list). -1 with err. */
int batch_parse_head(struct batch_spec *spec, bool job, const char **body,
    size_t *len, const char *content_type, const char *query,
    const char *accept, const struct config *cfg, struct parse_error *err,
    bool *json);
/* n items for spec's output format: -1 with err past [server]
 * max_json_items when it is one JSON document. */
int batch_check_json_items(const struct batch_spec *spec, uint64_t n,
    const struct config *cfg, struct parse_error *err);
/* One item (a URL string or an object) into *it, from spec's arena. */
void batch_parse_item(struct batch_spec *spec, struct item_spec *it,
    uint32_t index, const json_t *v, const struct config *cfg);

#endif
