/* igraph_json.h: pool-owned wrapper around jansson (after httpd's md_json.c).
 *
 * A igraph_json_t holds a reference to a json_t and registers a pool cleanup that drops it, so
 * callers never call json_decref. Lookups take a NULL-terminated path of object keys:
 *     igraph_json_gets(j, "error", "message", NULL)
 *
 * Big numbers: Meta sends some Instagram ids as bare JSON numbers above 2^53 (and ids may one day
 * exceed int64). igraph_json_parse() therefore turns every integer lexeme of 16 or more digits
 * into a JSON string before jansson sees it, so no id is ever rounded. Getters are tolerant:
 * igraph_json_get_id() accepts a string or an integer; igraph_json_getl() accepts an integer,
 * an integral real or a string of digits.
 */
#ifndef IGRAPH_JSON_H
#define IGRAPH_JSON_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <jansson.h>

typedef struct igraph_json_t igraph_json_t;

#define IGRAPH_JSON_MAX_DEPTH 32

/* Parses len bytes. On failure returns APR_EINVAL and sets *perr (may be NULL) to a short reason.
 * Rejects nesting deeper than IGRAPH_JSON_MAX_DEPTH and invalid UTF-8. */
apr_status_t igraph_json_parse(igraph_json_t **pj, apr_pool_t *p, const char *data, apr_size_t len,
                               const char **perr);

igraph_json_t *igraph_json_new_object(apr_pool_t *p);
igraph_json_t *igraph_json_new_array(apr_pool_t *p);
/* Wraps j (takes a new reference). */
igraph_json_t *igraph_json_wrap(apr_pool_t *p, json_t *j);
json_t *igraph_json_raw(const igraph_json_t *j);

/* Getters: the value at the path, or NULL / the default when absent or of another type. */
igraph_json_t *igraph_json_getj(apr_pool_t *p, const igraph_json_t *j, ...)
    __attribute__((sentinel));
const char *igraph_json_gets(const igraph_json_t *j, ...) __attribute__((sentinel));
/* string, or integer rendered in decimal; NULL otherwise. */
const char *igraph_json_get_id(apr_pool_t *p, const igraph_json_t *j, ...)
    __attribute__((sentinel));
/* integer / integral real / digit string; *found (may be NULL) says whether it was there. */
apr_int64_t igraph_json_getl(const igraph_json_t *j, int *found, ...) __attribute__((sentinel));
/* true/false; also 1/0 and "true"/"false". def when absent. */
int igraph_json_getb(const igraph_json_t *j, int def, ...) __attribute__((sentinel));
int igraph_json_has(const igraph_json_t *j, ...) __attribute__((sentinel));
int igraph_json_is_object(const igraph_json_t *j);
int igraph_json_is_array(const igraph_json_t *j);

/* Arrays (j itself must be an array): size (0 if not an array) and element (NULL if out of range). */
apr_size_t igraph_json_array_size(const igraph_json_t *j);
igraph_json_t *igraph_json_array_at(apr_pool_t *p, const igraph_json_t *j, apr_size_t i);

/* Setters on an object (single key). A NULL string value sets JSON null. */
void igraph_json_sets(igraph_json_t *j, const char *key, const char *val);
void igraph_json_setl(igraph_json_t *j, const char *key, apr_int64_t val);
void igraph_json_setb(igraph_json_t *j, const char *key, int val);
void igraph_json_setnull(igraph_json_t *j, const char *key);
void igraph_json_setj(igraph_json_t *j, const char *key, igraph_json_t *val);
/* Appends to an array. */
void igraph_json_append(igraph_json_t *arr, igraph_json_t *val);
void igraph_json_appends(igraph_json_t *arr, const char *val);

/* Compact serialisation (keys in insertion order), allocated from p. */
char *igraph_json_dump(apr_pool_t *p, const igraph_json_t *j);
/* Writes the compact JSON text of j through out (called with consecutive pieces, never a NUL;
 * returns 0 to go on), in one pass and without a copy: for answers that hold no secret. */
typedef int igraph_json_out_fn(const char *buf, apr_size_t len, void *baton);
apr_status_t igraph_json_write(const igraph_json_t *j, igraph_json_out_fn *out, void *baton);

#endif
