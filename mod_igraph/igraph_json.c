/* igraph_json.c: pool-owned wrapper around jansson. */
#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>

#include "igraph_crypto.h"
#include "igraph_json.h"
#include "igraph_log.h"
#include "igraph_util.h"

/* Integer lexemes with this many digits or more may not survive a double (2^53 has 16 digits)
 * and are handed to jansson as strings. */
#define IGRAPH_JSON_BIG_DIGITS 16

struct igraph_json_t {
    json_t *j;
    apr_pool_t *p;
};

/* Zeroes the strings of the part of a tree that the coming json_decref frees (the nodes nobody
 * else holds): Graph answers carry tokens, and jansson hands memory back without clearing it. */
static void igraph_json_zero_strings(json_t *j)
{
    const char *key;
    json_t *v;
    size_t i;

    if (!j || j->refcount > 1) {
        return;
    }
    switch (json_typeof(j)) {
    case JSON_STRING:
        igraph_secure_zero((char *)json_string_value(j), json_string_length(j));
        break;
    case JSON_OBJECT:
        json_object_foreach(j, key, v) {
            igraph_json_zero_strings(v);
        }
        break;
    case JSON_ARRAY:
        json_array_foreach(j, i, v) {
            igraph_json_zero_strings(v);
        }
        break;
    default:
        break;
    }
}

static apr_status_t igraph_json_cleanup(void *data)
{
    igraph_json_t *w = data;

    if (w->j) {
        igraph_json_zero_strings(w->j);
        json_decref(w->j);
        w->j = NULL;
    }
    return APR_SUCCESS;
}

/* Takes over the caller's reference to j. */
static igraph_json_t *igraph_json_own(apr_pool_t *p, json_t *j)
{
    igraph_json_t *w;

    if (!j) {
        return NULL;
    }
    w = apr_palloc(p, sizeof(*w));
    w->j = j;
    w->p = p;
    apr_pool_cleanup_register(p, w, igraph_json_cleanup, apr_pool_cleanup_null);
    return w;
}

igraph_json_t *igraph_json_wrap(apr_pool_t *p, json_t *j)
{
    if (!j) {
        return NULL;
    }
    return igraph_json_own(p, json_incref(j));
}

igraph_json_t *igraph_json_new_object(apr_pool_t *p)
{
    return igraph_json_own(p, json_object());
}

igraph_json_t *igraph_json_new_array(apr_pool_t *p)
{
    return igraph_json_own(p, json_array());
}

json_t *igraph_json_raw(const igraph_json_t *j)
{
    return j ? j->j : NULL;
}

static int igraph_json_is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int igraph_json_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Characters that can continue a real number lexeme. */
static int igraph_json_is_numch(char c)
{
    return igraph_json_is_digit(c) || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-';
}

/* The pre-pass: copies in to a new buffer, wrapping big integer lexemes in quotes, and enforces
 * the nesting limit. It is not a validator; jansson still parses the result and rejects anything
 * malformed. It must only avoid turning invalid JSON into valid JSON, which is why numbers are
 * only quoted in value position (after ':', '[', a ',' inside an array, or at the top level) and
 * never when they have a leading zero. */
static apr_status_t igraph_json_prepass(apr_pool_t *p, const char *in, apr_size_t len, char **pout,
                                        apr_size_t *poutlen, const char **perr)
{
    char stack[IGRAPH_JSON_MAX_DEPTH];
    apr_size_t depth = 0, i, j, n = 0, ndig;
    int in_string = 0, escaped = 0, value_pos;
    char prev = 0, *out;

    if (len > APR_SIZE_MAX / 2) {
        *perr = "document too large";
        return APR_EINVAL;
    }
    /* A quoted lexeme is at least 16 bytes long and grows by 2, so len/8 extra is enough. */
    out = apr_palloc(p, len + len / 8 + 3);
    for (i = 0; i < len; ++i) {
        char c = in[i];

        if (in_string) {
            out[n++] = c;
            if (escaped) {
                escaped = 0;
            } else if (c == '\\') {
                escaped = 1;
            } else if (c == '"') {
                in_string = 0;
                prev = '"';
            }
            continue;
        }
        if (c == '"') {
            in_string = 1;
            out[n++] = c;
        } else if (c == '[' || c == '{') {
            if (depth >= IGRAPH_JSON_MAX_DEPTH) {
                *perr = "nesting too deep";
                return APR_EINVAL;
            }
            stack[depth++] = c;
            prev = c;
            out[n++] = c;
        } else if (c == ']' || c == '}') {
            /* Mismatched brackets are jansson's to report. */
            if (depth > 0) {
                --depth;
            }
            prev = c;
            out[n++] = c;
        } else if (c == '-' || igraph_json_is_digit(c)) {
            j = (c == '-') ? i + 1 : i;
            ndig = 0;
            while (j + ndig < len && igraph_json_is_digit(in[j + ndig])) {
                ++ndig;
            }
            value_pos = prev == 0 || prev == ':' || prev == '[' ||
                        (prev == ',' && depth > 0 && stack[depth - 1] == '[');
            if (j + ndig < len &&
                (in[j + ndig] == '.' || in[j + ndig] == 'e' || in[j + ndig] == 'E')) {
                /* A real: copied unchanged, whatever follows is jansson's to judge. */
                j += ndig;
                while (j < len && igraph_json_is_numch(in[j])) {
                    ++j;
                }
                memcpy(out + n, in + i, j - i);
                n += j - i;
            } else if (ndig >= IGRAPH_JSON_BIG_DIGITS && in[j] != '0' && value_pos) {
                j += ndig;
                out[n++] = '"';
                memcpy(out + n, in + i, j - i);
                n += j - i;
                out[n++] = '"';
            } else {
                j += ndig;
                memcpy(out + n, in + i, j - i);
                n += j - i;
            }
            prev = '0';
            /* j > i always: '-' or the first digit was consumed. */
            i = j - 1;
        } else {
            if (!igraph_json_is_ws(c)) {
                prev = c;
            }
            out[n++] = c;
        }
    }
    out[n] = '\0';
    *pout = out;
    *poutlen = n;
    return APR_SUCCESS;
}

apr_status_t igraph_json_parse(igraph_json_t **pj, apr_pool_t *p, const char *data, apr_size_t len,
                               const char **perr)
{
    const char *err = NULL, *near;
    apr_pool_t *ptemp = NULL;
    apr_status_t rv;
    json_error_t jerr;
    apr_size_t blen;
    json_t *j;
    char *buf;

    *pj = NULL;
    if (!data) {
        err = "no data";
        rv = APR_EINVAL;
        goto leave;
    }
    /* The rewritten copy is only needed during parsing. */
    rv = apr_pool_create(&ptemp, p);
    if (rv != APR_SUCCESS) {
        err = "out of memory";
        goto leave;
    }
    rv = igraph_json_prepass(ptemp, data, len, &buf, &blen, &err);
    if (rv != APR_SUCCESS) {
        goto leave;
    }
    /* Duplicate keys are tolerated (the last one wins): Meta has been seen sending them. */
    j = json_loadb(buf, blen, JSON_DECODE_ANY, &jerr);
    igraph_secure_zero(buf, blen);
    if (!j) {
        /* jansson appends "near '<token>'", which may quote a secret from the body: cut it.
         * Columns count in the rewritten copy, so they may be off by 2 per quoted big number. */
        near = strstr(jerr.text, " near '");
        err = apr_psprintf(p, "invalid JSON at line %d column %d: %.*s", jerr.line, jerr.column,
                           near ? (int)(near - jerr.text) : (int)strlen(jerr.text), jerr.text);
        rv = APR_EINVAL;
        goto leave;
    }
    *pj = igraph_json_own(p, j);
leave:
    if (ptemp) {
        apr_pool_destroy(ptemp);
    }
    if (perr) {
        *perr = err;
    }
    return rv;
}

/* Follows a NULL-terminated list of object keys; a borrowed reference or NULL. */
static json_t *igraph_json_select(const igraph_json_t *w, va_list ap)
{
    json_t *j = w ? w->j : NULL;
    const char *key;

    while (j && (key = va_arg(ap, const char *)) != NULL) {
        j = json_is_object(j) ? json_object_get(j, key) : NULL;
    }
    return j;
}

igraph_json_t *igraph_json_getj(apr_pool_t *p, const igraph_json_t *j, ...)
{
    json_t *v;
    va_list ap;

    va_start(ap, j);
    v = igraph_json_select(j, ap);
    va_end(ap);
    return igraph_json_wrap(p, v);
}

const char *igraph_json_gets(const igraph_json_t *j, ...)
{
    json_t *v;
    va_list ap;

    va_start(ap, j);
    v = igraph_json_select(j, ap);
    va_end(ap);
    return json_is_string(v) ? json_string_value(v) : NULL;
}

const char *igraph_json_get_id(apr_pool_t *p, const igraph_json_t *j, ...)
{
    json_t *v;
    va_list ap;

    va_start(ap, j);
    v = igraph_json_select(j, ap);
    va_end(ap);
    if (json_is_string(v)) {
        return apr_pstrdup(p, json_string_value(v));
    }
    if (json_is_integer(v)) {
        return apr_psprintf(p, "%" APR_INT64_T_FMT, (apr_int64_t)json_integer_value(v));
    }
    return NULL;
}

apr_int64_t igraph_json_getl(const igraph_json_t *j, int *found, ...)
{
    apr_int64_t val = 0;
    int ok = 0;
    json_t *v;
    va_list ap;
    double d;

    va_start(ap, found);
    v = igraph_json_select(j, ap);
    va_end(ap);
    if (json_is_integer(v)) {
        val = (apr_int64_t)json_integer_value(v);
        ok = 1;
    } else if (json_is_real(v)) {
        d = json_real_value(v);
        /* Range check first: converting an out-of-range double to an integer is undefined. */
        if (d >= -9223372036854775808.0 && d < 9223372036854775808.0 &&
            d == (double)(apr_int64_t)d) {
            val = (apr_int64_t)d;
            ok = 1;
        }
    } else if (json_is_string(v)) {
        ok = igraph_parse_int64(json_string_value(v), &val) == APR_SUCCESS;
        if (!ok) {
            val = 0;
        }
    }
    if (found) {
        *found = ok;
    }
    return val;
}

int igraph_json_getb(const igraph_json_t *j, int def, ...)
{
    const char *s;
    json_t *v;
    va_list ap;

    va_start(ap, def);
    v = igraph_json_select(j, ap);
    va_end(ap);
    if (json_is_boolean(v)) {
        return json_is_true(v);
    }
    if (json_is_integer(v)) {
        if (json_integer_value(v) == 1) {
            return 1;
        }
        if (json_integer_value(v) == 0) {
            return 0;
        }
    } else if (json_is_string(v)) {
        s = json_string_value(v);
        if (!strcmp(s, "true")) {
            return 1;
        }
        if (!strcmp(s, "false")) {
            return 0;
        }
    }
    return def;
}

int igraph_json_has(const igraph_json_t *j, ...)
{
    json_t *v;
    va_list ap;

    va_start(ap, j);
    v = igraph_json_select(j, ap);
    va_end(ap);
    return v != NULL;
}

int igraph_json_is_object(const igraph_json_t *j)
{
    return j && json_is_object(j->j);
}

int igraph_json_is_array(const igraph_json_t *j)
{
    return j && json_is_array(j->j);
}

apr_size_t igraph_json_array_size(const igraph_json_t *j)
{
    return (j && json_is_array(j->j)) ? json_array_size(j->j) : 0;
}

igraph_json_t *igraph_json_array_at(apr_pool_t *p, const igraph_json_t *j, apr_size_t i)
{
    if (!j || !json_is_array(j->j)) {
        return NULL;
    }
    /* json_array_get returns NULL when i is out of range. */
    return igraph_json_wrap(p, json_array_get(j->j, i));
}

/* Sets key to v, consuming the reference; v NULL (a failed constructor) becomes JSON null. */
static void igraph_json_set_new(igraph_json_t *j, const char *key, json_t *v)
{
    if (!j || !key || !json_is_object(j->j)) {
        if (v) {
            json_decref(v);
        }
        return;
    }
    if (!v) {
        v = json_null();
    }
    if (json_object_set_new(j->j, key, v) != 0) {
        igraph_log(IGRAPH_LOG_WARNING, "IG0101: json: cannot set a member (invalid key?)");
    }
}

void igraph_json_sets(igraph_json_t *j, const char *key, const char *val)
{
    json_t *v = NULL;

    if (val) {
        v = json_string(val);
        if (!v) {
            /* json_string() refuses invalid UTF-8; never quote the value, it may be secret. */
            igraph_log(IGRAPH_LOG_WARNING, "IG0102: json: value for '%s' is not UTF-8, set null",
                       key ? key : "");
        }
    }
    igraph_json_set_new(j, key, v);
}

void igraph_json_setl(igraph_json_t *j, const char *key, apr_int64_t val)
{
    igraph_json_set_new(j, key, json_integer((json_int_t)val));
}

void igraph_json_setb(igraph_json_t *j, const char *key, int val)
{
    igraph_json_set_new(j, key, json_boolean(val));
}

void igraph_json_setnull(igraph_json_t *j, const char *key)
{
    igraph_json_set_new(j, key, json_null());
}

void igraph_json_setj(igraph_json_t *j, const char *key, igraph_json_t *val)
{
    igraph_json_set_new(j, key, (val && val->j) ? json_incref(val->j) : NULL);
}

void igraph_json_append(igraph_json_t *arr, igraph_json_t *val)
{
    if (!arr || !json_is_array(arr->j)) {
        return;
    }
    json_array_append_new(arr->j, (val && val->j) ? json_incref(val->j) : json_null());
}

void igraph_json_appends(igraph_json_t *arr, const char *val)
{
    json_t *v;

    if (!arr || !json_is_array(arr->j)) {
        return;
    }
    v = val ? json_string(val) : NULL;
    json_array_append_new(arr->j, v ? v : json_null());
}

char *igraph_json_dump(apr_pool_t *p, const igraph_json_t *j)
{
    size_t need, got;
    char *buf;

    if (!j || !j->j) {
        return NULL;
    }
    /* Two passes (measure, then write) keep the result in the pool without a malloc'd copy. */
    need = json_dumpb(j->j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
    if (need == 0) {
        return NULL;
    }
    buf = apr_palloc(p, need + 1);
    got = json_dumpb(j->j, buf, need, JSON_COMPACT | JSON_ENCODE_ANY);
    if (got != need) {
        return NULL;
    }
    buf[need] = '\0';
    igraph_wipe_on_clear(p, buf, need); /* e.g. the sealed-to-be Page tokens of a connect */
    return buf;
}

typedef struct json_out {
    igraph_json_out_fn *out;
    void *baton;
} json_out;

static int json_out_piece(const char *buf, size_t len, void *data)
{
    json_out *o = data;
    return o->out(buf, (apr_size_t)len, o->baton) ? -1 : 0;
}

apr_status_t igraph_json_write(const igraph_json_t *j, igraph_json_out_fn *out, void *baton)
{
    json_out o = {out, baton};

    if (!j || !j->j) {
        return APR_EINVAL;
    }
    return json_dump_callback(j->j, json_out_piece, &o, JSON_COMPACT | JSON_ENCODE_ANY) == 0
               ? APR_SUCCESS
               : APR_EGENERAL;
}
