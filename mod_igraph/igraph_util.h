/* igraph_util.h: small Apache-independent helpers (durations, URL/form coding, HTML escaping,
 * time formatting, scope lists, input validation). All allocation from the given pool. */
#ifndef IGRAPH_UTIL_H
#define IGRAPH_UTIL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

/* "90", "90s", "15m", "2h", "15d" (also "1d12h"? no: one number and at most one suffix).
 * Surrounding whitespace is not accepted. Result in seconds, must be 0 < x <= 10 years.
 * Returns APR_SUCCESS or APR_EINVAL. */
apr_status_t igraph_parse_duration(const char *s, apr_int64_t *psecs);

/* Percent-encodes everything except RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~). */
char *igraph_url_encode(apr_pool_t *p, const char *s);

/* Decodes %XX and '+' (as space). Returns NULL on a malformed escape or an encoded NUL byte. */
char *igraph_url_decode(apr_pool_t *p, const char *s, apr_size_t len);

/* Parses "a=1&b=2&a=3" (query strings and application/x-www-form-urlencoded bodies) into a table
 * (duplicate keys kept, in order). Empty pairs ("&&") are skipped; a key without '=' has value "".
 * Returns NULL on malformed percent-encoding. */
apr_table_t *igraph_form_parse(apr_pool_t *p, const char *s);

/* Number of times key occurs in the table. */
int igraph_table_count(const apr_table_t *t, const char *key);

/* Builds "k1=v1&k2=v2" from a NULL-terminated list of key, value pairs; pairs whose value is NULL
 * are skipped. Both keys and values are url-encoded. */
char *igraph_form_build(apr_pool_t *p, ...) __attribute__((sentinel));

/* Escapes & < > " ' for HTML text and attribute values. NULL gives "". */
char *igraph_html_escape(apr_pool_t *p, const char *s);

/* "2026-11-25T13:05:00Z" for a Unix time (seconds). */
char *igraph_iso8601(apr_pool_t *p, apr_int64_t unix_secs);

/* Unix time now, in seconds (reads the real clock). */
apr_int64_t igraph_now(void);

/* "v26.0"-style Graph API versions: 'v', 1-3 digits, '.', 1-2 digits. */
int igraph_is_graph_version(const char *s);

/* Absolute http:// or https:// URL with a non-empty host, no whitespace/control characters.
 * Returns 1 when valid. */
int igraph_is_http_url(const char *s);

/* s when it is an http(s) URL by igraph_is_http_url(), else NULL: what is kept of a URL Meta
 * sends for display (profile_picture_url, permalink), which has been seen as "javascript:..."
 * and must never become a link or an image source. */
const char *igraph_http_url_or_null(const char *s);

/* Normalises a scope list: accepts commas and/or spaces as separators, trims, drops empties and
 * duplicates, requires [a-z0-9_] names; returns "a,b,c" or NULL (and *perr) when invalid/empty. */
char *igraph_scopes_normalize(apr_pool_t *p, const char *list, const char **perr);

/* 1 when the comma-separated list contains scope exactly. */
int igraph_scopes_contains(const char *csv, const char *scope);

/* Splits a comma list into an array of char* (trimmed, non-empty items). */
apr_array_header_t *igraph_split_csv(apr_pool_t *p, const char *csv);

/* Parses a decimal signed 64-bit integer (the whole string). APR_EINVAL otherwise. */
apr_status_t igraph_parse_int64(const char *s, apr_int64_t *out);

/* 1 when s is a string of 1..32 ASCII digits (Meta object ids). */
int igraph_is_numeric_id(const char *s);

/* 1 when the bytes are valid UTF-8 (no overlongs, no surrogates). */
int igraph_is_utf8(const char *s, apr_size_t len);

/* 1 when s is a safe same-host redirect target: an absolute path ("/..."), not "//" or "/\",
 * no backslash, no control or non-ASCII byte, no "." or ".." segment, at most 512 bytes (after
 * percent-decoding, which the caller has done). */
int igraph_is_local_path(const char *s);

/* 1 when the Set-Cookie value carries the attribute attr (e.g. "Secure"): attributes are the
 * ';'-separated items after the first name=value pair, compared by name, case-insensitively,
 * surrounding blanks ignored. A cookie *named* "secure_x" has no Secure attribute. */
int igraph_cookie_has_attr(const char *set_cookie, const char *attr);

#endif
