/* igraph_crypto.c: randomness, base64url, AES-256-GCM sealing, HMAC, key file (libcrypto). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "igraph_crypto.h"
#include "igraph_file.h"
#include "igraph_log.h"

#define IGRAPH_SEAL_PREFIX "v1."
#define IGRAPH_SEAL_PREFIX_LEN 3
#define IGRAPH_NONCE_LEN 12
#define IGRAPH_TAG_LEN 16
/* Sealed values are tokens and small OAuth payloads; a cap keeps every length well inside int. */
#define IGRAPH_SEAL_MAX (16 * 1024 * 1024)
#define IGRAPH_KEYFILE_MAX 4096

static const char igraph_b64url_alpha[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

apr_status_t igraph_random_bytes(void *buf, apr_size_t len)
{
    unsigned char *b = buf;
    int chunk;

    while (len > 0) {
        chunk = len > INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(b, chunk) != 1) {
            return APR_EGENERAL;
        }
        b += chunk;
        len -= (apr_size_t)chunk;
    }
    return APR_SUCCESS;
}

char *igraph_random_token(apr_pool_t *p, apr_size_t nbytes)
{
    unsigned char *buf;
    char *tok = NULL;

    buf = apr_palloc(p, nbytes ? nbytes : 1);
    if (igraph_random_bytes(buf, nbytes) == APR_SUCCESS) {
        tok = igraph_b64url_encode(p, buf, nbytes);
    } else {
        igraph_log(IGRAPH_LOG_ERR, "IG0201: crypto: RAND_bytes failed");
    }
    igraph_secure_zero(buf, nbytes);
    return tok;
}

char *igraph_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len)
{
    const unsigned char *d = data;
    apr_size_t i, n = 0;
    apr_uint32_t v;
    char *out;

    if (len > (APR_SIZE_MAX / 4) * 3 - 3) {
        return NULL;
    }
    out = apr_palloc(p, (len + 2) / 3 * 4 + 1);
    for (i = 0; i + 2 < len; i += 3) {
        v = ((apr_uint32_t)d[i] << 16) | ((apr_uint32_t)d[i + 1] << 8) | d[i + 2];
        out[n++] = igraph_b64url_alpha[(v >> 18) & 63];
        out[n++] = igraph_b64url_alpha[(v >> 12) & 63];
        out[n++] = igraph_b64url_alpha[(v >> 6) & 63];
        out[n++] = igraph_b64url_alpha[v & 63];
    }
    if (len - i == 1) {
        v = (apr_uint32_t)d[i] << 16;
        out[n++] = igraph_b64url_alpha[(v >> 18) & 63];
        out[n++] = igraph_b64url_alpha[(v >> 12) & 63];
    } else if (len - i == 2) {
        v = ((apr_uint32_t)d[i] << 16) | ((apr_uint32_t)d[i + 1] << 8);
        out[n++] = igraph_b64url_alpha[(v >> 18) & 63];
        out[n++] = igraph_b64url_alpha[(v >> 12) & 63];
        out[n++] = igraph_b64url_alpha[(v >> 6) & 63];
    }
    out[n] = '\0';
    return out;
}

static int igraph_b64url_val(char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c - 'A';
    }
    if (c >= 'a' && c <= 'z') {
        return c - 'a' + 26;
    }
    if (c >= '0' && c <= '9') {
        return c - '0' + 52;
    }
    if (c == '-') {
        return 62;
    }
    if (c == '_') {
        return 63;
    }
    return -1;
}

apr_status_t igraph_b64url_decode(apr_pool_t *p, const char *s, apr_size_t slen,
                                  unsigned char **out, apr_size_t *outlen)
{
    apr_size_t i, n = 0, pad = 0;
    apr_uint32_t acc = 0;
    unsigned char *buf;
    int bits = 0, v;

    *out = NULL;
    *outlen = 0;
    if (!s) {
        return APR_EINVAL;
    }
    /* Padding is optional, but when present it must be complete and only at the end. */
    while (slen > 0 && s[slen - 1] == '=' && pad < 2) {
        --slen;
        ++pad;
    }
    if (pad > 0 && (slen + pad) % 4 != 0) {
        return APR_EINVAL;
    }
    if (slen % 4 == 1) {
        return APR_EINVAL;
    }
    buf = apr_palloc(p, slen / 4 * 3 + 3);
    for (i = 0; i < slen; ++i) {
        v = igraph_b64url_val(s[i]);
        if (v < 0) {
            return APR_EINVAL;
        }
        acc = (acc << 6) | (apr_uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            buf[n++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* Left-over bits must be zero: one canonical encoding per value. */
    if (acc != 0) {
        return APR_EINVAL;
    }
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return APR_SUCCESS;
}

char *igraph_hex(apr_pool_t *p, const void *data, apr_size_t len)
{
    static const char hexdig[] = "0123456789abcdef";
    const unsigned char *d = data;
    apr_size_t i;
    char *out;

    if (len > APR_SIZE_MAX / 2 - 1) {
        return NULL;
    }
    out = apr_palloc(p, len * 2 + 1);
    for (i = 0; i < len; ++i) {
        out[2 * i] = hexdig[d[i] >> 4];
        out[2 * i + 1] = hexdig[d[i] & 0x0f];
    }
    out[len * 2] = '\0';
    return out;
}

apr_status_t igraph_seal(apr_pool_t *p, const igraph_key_t *key, const char *aad, const void *pt,
                         apr_size_t ptlen, char **out)
{
    EVP_CIPHER_CTX *ctx = NULL;
    apr_status_t rv = APR_EGENERAL;
    unsigned char *buf, *ct;
    int outl, total = 0;
    char *b64;

    *out = NULL;
    if (!key || (!pt && ptlen > 0) || ptlen > IGRAPH_SEAL_MAX) {
        return APR_EINVAL;
    }
    /* nonce || ciphertext || tag; GCM ciphertext is as long as the plaintext. */
    buf = apr_palloc(p, IGRAPH_NONCE_LEN + ptlen + IGRAPH_TAG_LEN);
    ct = buf + IGRAPH_NONCE_LEN;
    /* A fresh random nonce per seal: with one key for years, a repeated nonce would leak the
     * XOR of two plaintexts and allow forgeries. 2^-32 collision bound holds up to ~2^32 seals. */
    if (igraph_random_bytes(buf, IGRAPH_NONCE_LEN) != APR_SUCCESS) {
        goto leave;
    }
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IGRAPH_NONCE_LEN, NULL) != 1 ||
        EVP_EncryptInit_ex(ctx, NULL, NULL, key->k, buf) != 1) {
        goto leave;
    }
    if (aad && *aad &&
        EVP_EncryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad, (int)strlen(aad)) != 1) {
        goto leave;
    }
    if (ptlen > 0) {
        if (EVP_EncryptUpdate(ctx, ct, &outl, pt, (int)ptlen) != 1) {
            goto leave;
        }
        total = outl;
    }
    if (EVP_EncryptFinal_ex(ctx, ct + total, &outl) != 1) {
        goto leave;
    }
    total += outl;
    if ((apr_size_t)total != ptlen ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, IGRAPH_TAG_LEN, ct + ptlen) != 1) {
        goto leave;
    }
    b64 = igraph_b64url_encode(p, buf, IGRAPH_NONCE_LEN + ptlen + IGRAPH_TAG_LEN);
    if (!b64) {
        goto leave;
    }
    *out = apr_pstrcat(p, IGRAPH_SEAL_PREFIX, b64, NULL);
    rv = APR_SUCCESS;
leave:
    if (ctx) {
        EVP_CIPHER_CTX_free(ctx);
    }
    if (rv != APR_SUCCESS) {
        igraph_log(IGRAPH_LOG_ERR, "IG0202: crypto: sealing failed");
    }
    return rv;
}

apr_status_t igraph_unseal(apr_pool_t *p, const igraph_key_t *key, const char *aad,
                           const char *sealed, unsigned char **pt, apr_size_t *ptlen)
{
    EVP_CIPHER_CTX *ctx = NULL;
    apr_status_t rv = APR_EGENERAL;
    unsigned char *raw, *out = NULL, tag[IGRAPH_TAG_LEN];
    apr_size_t rawlen, ctlen = 0, slen;
    int outl, total = 0;

    *pt = NULL;
    *ptlen = 0;
    if (!key || !sealed || strncmp(sealed, IGRAPH_SEAL_PREFIX, IGRAPH_SEAL_PREFIX_LEN) != 0) {
        return APR_EINVAL;
    }
    sealed += IGRAPH_SEAL_PREFIX_LEN;
    slen = strlen(sealed);
    /* Bound before decoding: base64 expands by 4/3. */
    if (slen > (IGRAPH_SEAL_MAX + IGRAPH_NONCE_LEN + IGRAPH_TAG_LEN) / 3 * 4 + 4 ||
        igraph_b64url_decode(p, sealed, slen, &raw, &rawlen) != APR_SUCCESS ||
        rawlen < IGRAPH_NONCE_LEN + IGRAPH_TAG_LEN) {
        return APR_EINVAL;
    }
    ctlen = rawlen - IGRAPH_NONCE_LEN - IGRAPH_TAG_LEN;
    memcpy(tag, raw + IGRAPH_NONCE_LEN + ctlen, IGRAPH_TAG_LEN);
    out = apr_palloc(p, ctlen + 1);
    ctx = EVP_CIPHER_CTX_new();
    if (!ctx || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, IGRAPH_NONCE_LEN, NULL) != 1 ||
        EVP_DecryptInit_ex(ctx, NULL, NULL, key->k, raw) != 1) {
        goto leave;
    }
    if (aad && *aad &&
        EVP_DecryptUpdate(ctx, NULL, &outl, (const unsigned char *)aad, (int)strlen(aad)) != 1) {
        goto leave;
    }
    if (ctlen > 0) {
        if (EVP_DecryptUpdate(ctx, out, &outl, raw + IGRAPH_NONCE_LEN, (int)ctlen) != 1) {
            goto leave;
        }
        total = outl;
    }
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, IGRAPH_TAG_LEN, tag) != 1) {
        goto leave;
    }
    /* The tag is checked here; until then the output must be treated as attacker-controlled. */
    if (EVP_DecryptFinal_ex(ctx, out + total, &outl) != 1) {
        goto leave;
    }
    total += outl;
    if ((apr_size_t)total != ctlen) {
        goto leave;
    }
    out[ctlen] = '\0';
    igraph_wipe_on_clear(p, out, ctlen + 1);
    *pt = out;
    *ptlen = ctlen;
    rv = APR_SUCCESS;
leave:
    if (ctx) {
        EVP_CIPHER_CTX_free(ctx);
    }
    if (rv != APR_SUCCESS && out) {
        igraph_secure_zero(out, ctlen + 1);
    }
    return rv;
}

char *igraph_seal_str(apr_pool_t *p, const igraph_key_t *key, const char *aad, const char *s)
{
    char *out;

    if (!s || igraph_seal(p, key, aad, s, strlen(s), &out) != APR_SUCCESS) {
        return NULL;
    }
    return out;
}

char *igraph_unseal_str(apr_pool_t *p, const igraph_key_t *key, const char *aad, const char *sealed)
{
    unsigned char *pt;
    apr_size_t len;

    if (igraph_unseal(p, key, aad, sealed, &pt, &len) != APR_SUCCESS) {
        return NULL;
    }
    /* An embedded NUL would make the C string differ from what was sealed. */
    if (memchr(pt, '\0', len)) {
        igraph_secure_zero(pt, len);
        return NULL;
    }
    return (char *)pt;
}

void igraph_hmac_sha256(const void *key, apr_size_t klen, const void *msg, apr_size_t mlen,
                        unsigned char out[32])
{
    unsigned int olen = 0;

    /* HMAC() treats a NULL key specially; never pass one. */
    if (klen > INT_MAX ||
        !HMAC(EVP_sha256(), key ? key : "", key ? (int)klen : 0, msg ? msg : (const void *)"",
              msg ? mlen : 0, out, &olen) ||
        olen != 32) {
        /* A zero or stale output could match an attacker's guess: make it unpredictable. */
        igraph_log(IGRAPH_LOG_ERR, "IG0203: crypto: HMAC-SHA256 failed");
        if (RAND_bytes(out, 32) != 1) {
            abort();
        }
    }
}

char *igraph_hmac_sha256_hex(apr_pool_t *p, const void *key, apr_size_t klen, const void *msg,
                             apr_size_t mlen)
{
    unsigned char mac[32];
    char *hex;

    igraph_hmac_sha256(key, klen, msg, mlen, mac);
    hex = igraph_hex(p, mac, sizeof(mac));
    igraph_secure_zero(mac, sizeof(mac));
    return hex;
}

char *igraph_sha256_hex(apr_pool_t *p, const void *data, apr_size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;

    if (EVP_Digest(data ? data : "", data ? len : 0, md, &mdlen, EVP_sha256(), NULL) != 1 ||
        mdlen != 32) {
        igraph_log(IGRAPH_LOG_ERR, "IG0204: crypto: SHA-256 failed");
        return NULL;
    }
    return igraph_hex(p, md, mdlen);
}

int igraph_ct_equal(const void *a, apr_size_t alen, const void *b, apr_size_t blen)
{
    if (alen != blen) {
        return 0;
    }
    if (alen == 0) {
        return 1;
    }
    if (!a || !b) {
        return 0;
    }
    return CRYPTO_memcmp(a, b, alen) == 0;
}

void igraph_secure_zero(void *p, apr_size_t n)
{
    if (p && n > 0) {
        OPENSSL_cleanse(p, n);
    }
}

typedef struct igraph_wipe_t {
    void *buf;
    apr_size_t len;
} igraph_wipe_t;

static apr_status_t igraph_wipe_cleanup(void *data)
{
    igraph_wipe_t *w = data;

    igraph_secure_zero(w->buf, w->len);
    return APR_SUCCESS;
}

void igraph_wipe_on_clear(apr_pool_t *p, void *buf, apr_size_t len)
{
    igraph_wipe_t *w;

    if (!p || !buf || len == 0) {
        return;
    }
    w = apr_palloc(p, sizeof(*w));
    w->buf = buf;
    w->len = len;
    apr_pool_cleanup_register(p, w, igraph_wipe_cleanup, apr_pool_cleanup_null);
}

char *igraph_wipe_str(apr_pool_t *p, char *s)
{
    if (s) {
        igraph_wipe_on_clear(p, s, strlen(s));
    }
    return s;
}

char *igraph_pstrdup_secret(apr_pool_t *p, const char *s)
{
    return s ? igraph_wipe_str(p, apr_pstrdup(p, s)) : NULL;
}

typedef struct igraph_secret_map_t {
    void *addr;
    apr_size_t len;
    int locked;
} igraph_secret_map_t;

static apr_status_t igraph_secret_unmap(void *data)
{
    igraph_secret_map_t *m = data;

    if (m->addr) {
        igraph_secure_zero(m->addr, m->len);
        if (m->locked) {
            munlock(m->addr, m->len);
        }
        munmap(m->addr, m->len);
        m->addr = NULL;
    }
    return APR_SUCCESS;
}

void *igraph_secret_alloc(apr_pool_t *p, apr_size_t len)
{
    igraph_secret_map_t *m;
    long page = sysconf(_SC_PAGESIZE);
    apr_size_t size;
    void *addr;

    if (len == 0) {
        len = 1;
    }
    if (page <= 0) {
        page = 4096;
    }
    size = (len + (apr_size_t)page - 1) / (apr_size_t)page * (apr_size_t)page;
    addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (addr == MAP_FAILED) {
        addr = apr_pcalloc(p, len);
        igraph_wipe_on_clear(p, addr, len);
        return addr;
    }
#ifdef MADV_DONTDUMP
    madvise(addr, size, MADV_DONTDUMP);
#endif
    m = apr_palloc(p, sizeof(*m));
    m->addr = addr;
    m->len = size;
    /* kept out of swap when the memlock limit allows; not an error otherwise */
    m->locked = mlock(addr, size) == 0;
    apr_pool_cleanup_register(p, m, igraph_secret_unmap, apr_pool_cleanup_null);
    return addr;
}

char *igraph_secret_strdup(apr_pool_t *p, const char *s)
{
    apr_size_t n;
    char *copy;

    if (!s) {
        return NULL;
    }
    n = strlen(s) + 1;
    copy = igraph_secret_alloc(p, n);
    memcpy(copy, s, n);
    return copy;
}

static int igraph_hexval(unsigned char c)
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

apr_status_t igraph_key_parse(igraph_key_t *key, const void *data, apr_size_t len)
{
    const unsigned char *d = data;
    igraph_key_t tmp;
    apr_size_t i;
    int hi, lo;

    if (!key || !d) {
        return APR_EINVAL;
    }
    if (len == IGRAPH_KEY_LEN) {
        memcpy(key->k, d, IGRAPH_KEY_LEN);
        return APR_SUCCESS;
    }
    if (len < 2 * IGRAPH_KEY_LEN) {
        return APR_EINVAL;
    }
    for (i = 2 * IGRAPH_KEY_LEN; i < len; ++i) {
        if (d[i] != ' ' && d[i] != '\t' && d[i] != '\r' && d[i] != '\n') {
            return APR_EINVAL;
        }
    }
    for (i = 0; i < IGRAPH_KEY_LEN; ++i) {
        hi = igraph_hexval(d[2 * i]);
        lo = igraph_hexval(d[2 * i + 1]);
        if (hi < 0 || lo < 0) {
            igraph_secure_zero(&tmp, sizeof(tmp));
            return APR_EINVAL;
        }
        tmp.k[i] = (unsigned char)((hi << 4) | lo);
    }
    memcpy(key->k, tmp.k, IGRAPH_KEY_LEN);
    igraph_secure_zero(&tmp, sizeof(tmp));
    return APR_SUCCESS;
}

/* Writes a new random key as hex. EEXIST (another process won the race) is left to the caller. */
static apr_status_t igraph_key_create(const char *path, apr_pool_t *p, const char **perr)
{
    unsigned char raw[IGRAPH_KEY_LEN];
    static const char hexdig[] = "0123456789abcdef";
    char hex[2 * IGRAPH_KEY_LEN + 1];
    apr_size_t i, done = 0;
    apr_status_t rv;
    int fd, err_no = 0;
    ssize_t w;

    if (igraph_random_bytes(raw, sizeof(raw)) != APR_SUCCESS) {
        *perr = "cannot generate random key";
        return APR_EGENERAL;
    }
    for (i = 0; i < IGRAPH_KEY_LEN; ++i) {
        hex[2 * i] = hexdig[raw[i] >> 4];
        hex[2 * i + 1] = hexdig[raw[i] & 0x0f];
    }
    hex[2 * IGRAPH_KEY_LEN] = '\n';
    igraph_secure_zero(raw, sizeof(raw));

    /* O_EXCL|O_NOFOLLOW: never through a link planted where the key is to be */
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *perr = apr_psprintf(p, "cannot create key file %s: %s", path,
                             apr_strerror(rv, apr_palloc(p, 128), 128));
        goto leave;
    }
    while (done < sizeof(hex)) {
        w = write(fd, hex + done, sizeof(hex) - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            err_no = (w < 0) ? errno : EIO;
            break;
        }
        done += (apr_size_t)w;
    }
    if (err_no == 0 && fsync(fd) != 0) {
        err_no = errno;
    }
    if (err_no != 0) {
        rv = APR_FROM_OS_ERROR(err_no);
        *perr = apr_psprintf(p, "cannot write key file %s: %s", path,
                             apr_strerror(rv, apr_palloc(p, 128), 128));
        close(fd);
        /* A half-written key would be rejected on every later start: remove it. */
        unlink(path);
        goto leave;
    }
    if (close(fd) != 0) {
        rv = APR_FROM_OS_ERROR(errno);
        *perr = apr_psprintf(p, "cannot write key file %s: %s", path,
                             apr_strerror(rv, apr_palloc(p, 128), 128));
        unlink(path);
        goto leave;
    }
    igraph_log(IGRAPH_LOG_NOTICE, "IG0205: crypto: created new key file %s", path);
    rv = APR_SUCCESS;
leave:
    igraph_secure_zero(hex, sizeof(hex));
    return rv;
}

apr_status_t igraph_key_load(igraph_key_t *key, const char *path, int create, apr_pool_t *p,
                             const char **perr)
{
    /* One byte more than allowed, to tell "exactly at the limit" from "too large". */
    unsigned char buf[IGRAPH_KEYFILE_MAX + 1];
    const char *err = NULL;
    apr_size_t len = 0;
    apr_status_t rv;
    ssize_t r;
    int fd = -1;

    if (!key || !path || !*path) {
        err = "no key file configured";
        rv = APR_EINVAL;
        goto leave;
    }
    /* Root reads the key at every start: a plain file of root's own, private to it (see
     * igraph_file.h); anything else is refused with what to do about it. */
    rv = igraph_file_open_trusted(path, IGRAPH_FILE_NO_LINK | IGRAPH_FILE_PRIVATE, &fd, NULL, p,
                                  &err);
    if (APR_STATUS_IS_ENOENT(rv) && create) {
        rv = igraph_key_create(path, p, &err);
        if (rv != APR_SUCCESS && !APR_STATUS_IS_EEXIST(rv)) {
            goto leave;
        }
        rv = igraph_file_open_trusted(path, IGRAPH_FILE_NO_LINK | IGRAPH_FILE_PRIVATE, &fd, NULL, p,
                                      &err);
    }
    if (rv != APR_SUCCESS) {
        err = apr_psprintf(p, "key file: %s", err ? err : path);
        goto leave;
    }
    err = NULL;
    while (len < sizeof(buf)) {
        r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            rv = APR_FROM_OS_ERROR(errno);
            err = apr_psprintf(p, "cannot read key file %s: %s", path,
                               apr_strerror(rv, apr_palloc(p, 128), 128));
            goto leave;
        }
        if (r == 0) {
            break;
        }
        len += (apr_size_t)r;
    }
    if (len > IGRAPH_KEYFILE_MAX) {
        err = apr_psprintf(p, "key file %s is too large", path);
        rv = APR_EINVAL;
        goto leave;
    }
    rv = igraph_key_parse(key, buf, len);
    if (rv != APR_SUCCESS) {
        /* Only the length is reported; the content may be the key itself. */
        err =
            apr_psprintf(p,
                         "key file %s: expected 32 raw bytes or 64 hex digits, got %" APR_SIZE_T_FMT
                         " bytes of another form",
                         path, len);
    }
leave:
    if (fd >= 0) {
        close(fd);
    }
    igraph_secure_zero(buf, sizeof(buf));
    if (rv != APR_SUCCESS && key) {
        igraph_secure_zero(key, sizeof(*key));
    }
    if (perr) {
        *perr = err;
    }
    return rv;
}
