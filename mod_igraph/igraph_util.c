/* igraph_util.c: small Apache-independent helpers. */
#include <stdarg.h>
#include <string.h>

#include <apr_lib.h>
#include <apr_strings.h>

#include "igraph_crypto.h"
#include "igraph_util.h"

/* Ten years including leap days: long enough for any setting, short enough that seconds * 10^6
 * (apr_time_t) can never overflow. */
#define IGRAPH_DURATION_MAX ((apr_int64_t)3653 * 86400)

static const char igraph_hexdig[] = "0123456789ABCDEF";

static int igraph_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static int igraph_is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

apr_status_t igraph_parse_duration(const char *s, apr_int64_t *psecs)
{
    apr_int64_t v = 0, mult = 1;
    const char *c = s;

    if (!s || !igraph_is_digit(*c)) {
        return APR_EINVAL;
    }
    for (; igraph_is_digit(*c); ++c) {
        v = v * 10 + (*c - '0');
        /* Stop early: everything past the maximum is invalid anyway, and this bounds v. */
        if (v > IGRAPH_DURATION_MAX) {
            return APR_EINVAL;
        }
    }
    switch (*c) {
    case '\0':
        break;
    case 's':
        ++c;
        break;
    case 'm':
        mult = 60;
        ++c;
        break;
    case 'h':
        mult = 3600;
        ++c;
        break;
    case 'd':
        mult = 86400;
        ++c;
        break;
    default:
        return APR_EINVAL;
    }
    if (*c != '\0' || v <= 0 || v > IGRAPH_DURATION_MAX / mult) {
        return APR_EINVAL;
    }
    *psecs = v * mult;
    return APR_SUCCESS;
}

/* RFC 3986 unreserved set. Encoding everything else (including '/', ':' and '+') is what OAuth
 * signature bases and Meta's form parser expect; '+' in particular must never pass literally. */
static int igraph_is_unreserved(unsigned char c)
{
    return apr_isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

char *igraph_url_encode(apr_pool_t *p, const char *s)
{
    apr_size_t len, i, n = 0;
    char *out;

    if (!s) {
        return apr_pstrdup(p, "");
    }
    len = strlen(s);
    /* Worst case every byte becomes "%XX"; len is the size of an existing string, so the
     * multiplication cannot overflow on any platform with a flat address space of < 2^62. */
    out = apr_palloc(p, len * 3 + 1);
    for (i = 0; i < len; ++i) {
        unsigned char c = (unsigned char)s[i];
        if (igraph_is_unreserved(c)) {
            out[n++] = (char)c;
        } else {
            out[n++] = '%';
            out[n++] = igraph_hexdig[c >> 4];
            out[n++] = igraph_hexdig[c & 0x0f];
        }
    }
    out[n] = '\0';
    return out;
}

static int igraph_hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

char *igraph_url_decode(apr_pool_t *p, const char *s, apr_size_t len)
{
    apr_size_t i, n = 0;
    char *out;

    if (!s) {
        return NULL;
    }
    /* Decoding never grows the text. */
    out = apr_palloc(p, len + 1);
    for (i = 0; i < len; ++i) {
        char c = s[i];
        if (c == '+') {
            out[n++] = ' ';
        } else if (c == '%') {
            int hi, lo;
            if (len - i < 3) {
                return NULL;
            }
            hi = igraph_hexval(s[i + 1]);
            lo = igraph_hexval(s[i + 2]);
            /* An encoded NUL would silently cut the C string short: treat it as an attack. */
            if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
                return NULL;
            }
            out[n++] = (char)((hi << 4) | lo);
            i += 2;
        } else if (c == '\0') {
            return NULL;
        } else {
            out[n++] = c;
        }
    }
    out[n] = '\0';
    return out;
}

apr_table_t *igraph_form_parse(apr_pool_t *p, const char *s)
{
    apr_table_t *t = apr_table_make(p, 8);
    const char *pair, *end, *eq;
    char *key, *val;

    if (!s) {
        return t;
    }
    for (pair = s; *pair; pair = *end ? end + 1 : end) {
        end = strchr(pair, '&');
        if (!end) {
            end = pair + strlen(pair);
        }
        if (end == pair) {
            continue;
        }
        eq = memchr(pair, '=', (apr_size_t)(end - pair));
        if (eq) {
            key = igraph_url_decode(p, pair, (apr_size_t)(eq - pair));
            val = igraph_url_decode(p, eq + 1, (apr_size_t)(end - eq - 1));
        } else {
            key = igraph_url_decode(p, pair, (apr_size_t)(end - pair));
            val = "";
        }
        if (!key || !val) {
            return NULL;
        }
        /* addn: key and val are already pool copies; duplicates stay so callers can refuse
         * ambiguous requests (two "state" values) with igraph_table_count(). */
        apr_table_addn(t, key, val);
    }
    return t;
}

int igraph_table_count(const apr_table_t *t, const char *key)
{
    const apr_array_header_t *arr;
    const apr_table_entry_t *e;
    int i, n = 0;

    if (!t || !key) {
        return 0;
    }
    arr = apr_table_elts(t);
    e = (const apr_table_entry_t *)arr->elts;
    /* Case-insensitive like apr_table_get(), so a "State" cannot hide next to a "state". */
    for (i = 0; i < arr->nelts; ++i) {
        if (e[i].key && !strcasecmp(e[i].key, key)) {
            ++n;
        }
    }
    return n;
}

char *igraph_form_build(apr_pool_t *p, ...)
{
    apr_array_header_t *parts = apr_array_make(p, 8, sizeof(const char *));
    const char *key, *val;
    char *enc;
    va_list ap;

    va_start(ap, p);
    while ((key = va_arg(ap, const char *)) != NULL) {
        val = va_arg(ap, const char *);
        if (!val) {
            continue;
        }
        enc = igraph_wipe_str(p, igraph_url_encode(p, val));
        APR_ARRAY_PUSH(parts, const char *) =
            igraph_wipe_str(p, apr_pstrcat(p, igraph_url_encode(p, key), "=", enc, NULL));
    }
    va_end(ap);
    /* forms carry tokens and client secrets: every copy is zeroed with the pool */
    return igraph_wipe_str(p, apr_array_pstrcat(p, parts, '&'));
}

char *igraph_html_escape(apr_pool_t *p, const char *s)
{
    apr_size_t len = 0, n = 0;
    const char *c;
    char *out;

    if (!s) {
        return apr_pstrdup(p, "");
    }
    for (c = s; *c; ++c) {
        switch (*c) {
        case '&':
            len += 5;
            break;
        case '<':
        case '>':
            len += 4;
            break;
        case '"':
            len += 6;
            break;
        case '\'':
            len += 5;
            break;
        default:
            len += 1;
        }
    }
    out = apr_palloc(p, len + 1);
    for (c = s; *c; ++c) {
        const char *rep = NULL;
        switch (*c) {
        case '&':
            rep = "&amp;";
            break;
        case '<':
            rep = "&lt;";
            break;
        case '>':
            rep = "&gt;";
            break;
        case '"':
            rep = "&quot;";
            break;
        case '\'':
            rep = "&#39;";
            break;
        default:
            out[n++] = *c;
        }
        if (rep) {
            apr_size_t rl = strlen(rep);
            memcpy(out + n, rep, rl);
            n += rl;
        }
    }
    out[n] = '\0';
    return out;
}

char *igraph_iso8601(apr_pool_t *p, apr_int64_t unix_secs)
{
    apr_time_exp_t tm;

    /* Clamp to years 1970..9999: keeps the fixed-width format and apr_time_t in range. */
    if (unix_secs < 0) {
        unix_secs = 0;
    } else if (unix_secs > APR_INT64_C(253402300799)) {
        unix_secs = APR_INT64_C(253402300799);
    }
    if (apr_time_exp_gmt(&tm, apr_time_from_sec(unix_secs)) != APR_SUCCESS) {
        return apr_pstrdup(p, "1970-01-01T00:00:00Z");
    }
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

apr_int64_t igraph_now(void)
{
    return (apr_int64_t)apr_time_sec(apr_time_now());
}

/* Counts the leading ASCII digits of s. */
static apr_size_t igraph_digits(const char *s)
{
    apr_size_t n = 0;
    while (igraph_is_digit(s[n])) {
        ++n;
    }
    return n;
}

int igraph_is_graph_version(const char *s)
{
    apr_size_t n;

    if (!s || *s++ != 'v') {
        return 0;
    }
    n = igraph_digits(s);
    if (n < 1 || n > 3 || s[n] != '.') {
        return 0;
    }
    s += n + 1;
    n = igraph_digits(s);
    return n >= 1 && n <= 2 && s[n] == '\0';
}

const char *igraph_http_url_or_null(const char *s)
{
    return igraph_is_http_url(s) ? s : NULL;
}

int igraph_is_http_url(const char *s)
{
    const char *c, *host, *auth_end;
    apr_size_t port_digits, i;
    long port = 0;

    if (!s) {
        return 0;
    }
    if (!strncasecmp(s, "http://", 7)) {
        host = s + 7;
    } else if (!strncasecmp(s, "https://", 8)) {
        host = s + 8;
    } else {
        return 0;
    }
    /* Only printable ASCII; a backslash is rejected too since browsers read it as '/'. */
    for (c = s; *c; ++c) {
        unsigned char u = (unsigned char)*c;
        if (u <= 0x20 || u >= 0x7f || u == '\\') {
            return 0;
        }
    }
    auth_end = host + strcspn(host, "/?#");
    /* No userinfo: "https://good.example@evil.example/" is a phishing classic. */
    if (memchr(host, '@', (apr_size_t)(auth_end - host))) {
        return 0;
    }
    c = host;
    if (*c == '[') {
        ++c;
        while (c < auth_end && (apr_isxdigit(*c) || *c == ':' || *c == '.')) {
            ++c;
        }
        if (c >= auth_end || *c != ']' || c == host + 1) {
            return 0;
        }
        ++c;
    } else {
        while (c < auth_end && (apr_isalnum(*c) || *c == '-' || *c == '.' || *c == '_')) {
            ++c;
        }
        if (c == host) {
            return 0;
        }
    }
    if (c == auth_end) {
        return 1;
    }
    if (*c != ':') {
        return 0;
    }
    ++c;
    port_digits = (apr_size_t)(auth_end - c);
    if (port_digits < 1 || port_digits > 5 || igraph_digits(c) != port_digits) {
        return 0;
    }
    for (i = 0; i < port_digits; ++i) {
        port = port * 10 + (c[i] - '0');
    }
    return port >= 1 && port <= 65535;
}

char *igraph_scopes_normalize(apr_pool_t *p, const char *list, const char **perr)
{
    apr_array_header_t *names = apr_array_make(p, 8, sizeof(const char *));
    const char *c = list, *start;
    char *name;
    int i, dup;

    if (perr) {
        *perr = NULL;
    }
    if (!list) {
        c = "";
    }
    while (*c) {
        if (*c == ',' || igraph_is_space(*c)) {
            ++c;
            continue;
        }
        start = c;
        while (*c && *c != ',' && !igraph_is_space(*c)) {
            if (!((*c >= 'a' && *c <= 'z') || igraph_is_digit(*c) || *c == '_')) {
                if (perr) {
                    *perr = "scope names may only contain a-z, 0-9 and '_'";
                }
                return NULL;
            }
            ++c;
        }
        name = apr_pstrmemdup(p, start, (apr_size_t)(c - start));
        for (dup = 0, i = 0; i < names->nelts; ++i) {
            if (!strcmp(APR_ARRAY_IDX(names, i, const char *), name)) {
                dup = 1;
                break;
            }
        }
        /* Lists are short (a handful of scopes): quadratic de-duplication is fine. */
        if (!dup) {
            APR_ARRAY_PUSH(names, const char *) = name;
        }
    }
    if (names->nelts == 0) {
        if (perr) {
            *perr = "empty scope list";
        }
        return NULL;
    }
    return apr_array_pstrcat(p, names, ',');
}

/* Exact item match, never substring: "instagram_business_content_publish" must not satisfy a
 * check for "instagram_business". */
int igraph_scopes_contains(const char *csv, const char *scope)
{
    apr_size_t slen, n;
    const char *c, *end;

    if (!csv || !scope || !*scope) {
        return 0;
    }
    slen = strlen(scope);
    for (c = csv; *c; c = *end ? end + 1 : end) {
        end = strchr(c, ',');
        if (!end) {
            end = c + strlen(c);
        }
        while (c < end && igraph_is_space(*c)) {
            ++c;
        }
        n = (apr_size_t)(end - c);
        while (n > 0 && igraph_is_space(c[n - 1])) {
            --n;
        }
        if (n == slen && !memcmp(c, scope, n)) {
            return 1;
        }
    }
    return 0;
}

apr_array_header_t *igraph_split_csv(apr_pool_t *p, const char *csv)
{
    apr_array_header_t *arr = apr_array_make(p, 8, sizeof(char *));
    const char *c, *end;
    apr_size_t n;

    if (!csv) {
        return arr;
    }
    for (c = csv; *c; c = *end ? end + 1 : end) {
        end = strchr(c, ',');
        if (!end) {
            end = c + strlen(c);
        }
        while (c < end && igraph_is_space(*c)) {
            ++c;
        }
        n = (apr_size_t)(end - c);
        while (n > 0 && igraph_is_space(c[n - 1])) {
            --n;
        }
        if (n > 0) {
            APR_ARRAY_PUSH(arr, char *) = apr_pstrmemdup(p, c, n);
        }
    }
    return arr;
}

apr_status_t igraph_parse_int64(const char *s, apr_int64_t *out)
{
    apr_uint64_t v = 0, limit = (apr_uint64_t)APR_INT64_MAX;
    int neg = 0;

    if (!s) {
        return APR_EINVAL;
    }
    if (*s == '-') {
        neg = 1;
        ++s;
        /* |INT64_MIN| is one more than INT64_MAX. */
        limit += 1;
    }
    if (!igraph_is_digit(*s)) {
        return APR_EINVAL;
    }
    for (; igraph_is_digit(*s); ++s) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (limit - d) / 10) {
            return APR_EINVAL;
        }
        v = v * 10 + d;
    }
    if (*s != '\0') {
        return APR_EINVAL;
    }
    if (neg) {
        /* Negating in unsigned space avoids the signed overflow of -INT64_MIN. */
        *out = (v == limit) ? APR_INT64_MIN : -(apr_int64_t)v;
    } else {
        *out = (apr_int64_t)v;
    }
    return APR_SUCCESS;
}

int igraph_is_numeric_id(const char *s)
{
    apr_size_t n;

    if (!s) {
        return 0;
    }
    n = igraph_digits(s);
    return n >= 1 && n <= 32 && s[n] == '\0';
}

int igraph_is_utf8(const char *s, apr_size_t len)
{
    const unsigned char *u = (const unsigned char *)s;
    apr_size_t i = 0, need, k;
    unsigned char lo, hi;

    if (!s) {
        return len == 0;
    }
    while (i < len) {
        unsigned char c = u[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        /* Second-byte ranges per RFC 3629 table 4: they exclude overlongs (E0, F0), surrogates
         * (ED) and code points above U+10FFFF (F4). */
        lo = 0x80;
        hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0) {
                lo = 0xa0;
            } else if (c == 0xed) {
                hi = 0x9f;
            }
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0) {
                lo = 0x90;
            } else if (c == 0xf4) {
                hi = 0x8f;
            }
        } else {
            return 0;
        }
        if (len - i - 1 < need) {
            return 0;
        }
        if (u[i + 1] < lo || u[i + 1] > hi) {
            return 0;
        }
        for (k = 2; k <= need; ++k) {
            if (u[i + k] < 0x80 || u[i + k] > 0xbf) {
                return 0;
            }
        }
        i += need + 1;
    }
    return 1;
}

int igraph_is_local_path(const char *s)
{
    const char *seg;
    apr_size_t n;

    if (!s || s[0] != '/' || s[1] == '/' || s[1] == '\\' || (n = strlen(s)) > 512) {
        return 0;
    }
    for (seg = s; *seg; seg++) {
        unsigned char c = (unsigned char)*seg;
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            return 0;
        }
    }
    /* no dot segments: "/a/../b" would normalise elsewhere than it reads */
    for (seg = s; seg && *seg; seg = strchr(seg + 1, '/')) {
        const char *next = seg + 1;
        apr_size_t len = strcspn(next, "/?#");
        if ((len == 1 && next[0] == '.') || (len == 2 && next[0] == '.' && next[1] == '.')) {
            return 0;
        }
        if (strchr("?#", next[len]) && next[len]) {
            break;
        }
    }
    return 1;
}

int igraph_cookie_has_attr(const char *set_cookie, const char *attr)
{
    const char *s = set_cookie ? strchr(set_cookie, ';') : NULL;
    apr_size_t alen = strlen(attr);

    while (s) {
        const char *name = s + 1, *end;
        apr_size_t n;
        while (*name == ' ' || *name == '\t') {
            name++;
        }
        end = name + strcspn(name, ";=");
        n = (apr_size_t)(end - name);
        while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t')) {
            n--;
        }
        if (n == alen && !strncasecmp(name, attr, alen)) {
            return 1;
        }
        s = strchr(end, ';');
    }
    return 0;
}
