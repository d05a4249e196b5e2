/* igraph_crypto.h: random values, base64url, AES-256-GCM sealing of secrets at rest, HMAC-SHA256,
 * constant-time comparison, and the token key file. OpenSSL libcrypto underneath. */
#ifndef IGRAPH_CRYPTO_H
#define IGRAPH_CRYPTO_H

#include <apr_pools.h>

#define IGRAPH_KEY_LEN 32

typedef struct igraph_key_t {
    unsigned char k[IGRAPH_KEY_LEN];
} igraph_key_t;

/* Cryptographically strong random bytes (RAND_bytes). */
apr_status_t igraph_random_bytes(void *buf, apr_size_t len);
/* nbytes random bytes rendered as base64url without padding (e.g. 32 -> 43 chars). */
char *igraph_random_token(apr_pool_t *p, apr_size_t nbytes);

/* base64url (RFC 4648 section 5) without padding. */
char *igraph_b64url_encode(apr_pool_t *p, const void *data, apr_size_t len);
/* Accepts the url alphabet with or without '=' padding; rejects anything else (whitespace too).
 * *out is NUL-terminated (not counted in *outlen). */
apr_status_t igraph_b64url_decode(apr_pool_t *p, const char *s, apr_size_t slen,
                                  unsigned char **out, apr_size_t *outlen);

/* Lowercase hex. */
char *igraph_hex(apr_pool_t *p, const void *data, apr_size_t len);

/* AES-256-GCM with a fresh 96-bit random nonce per call. aad (may be NULL) binds the
 * ciphertext to its context (e.g. account row and field), so a sealed value cannot be moved.
 * Output: "v1." + base64url(nonce || ciphertext || tag). */
apr_status_t igraph_seal(apr_pool_t *p, const igraph_key_t *key, const char *aad, const void *pt,
                         apr_size_t ptlen, char **out);
/* Reverses igraph_seal; APR_EINVAL for malformed input, APR_EGENERAL when authentication fails
 * (tampered, wrong key, wrong aad). *pt is NUL-terminated. */
apr_status_t igraph_unseal(apr_pool_t *p, const igraph_key_t *key, const char *aad,
                           const char *sealed, unsigned char **pt, apr_size_t *ptlen);
/* String conveniences. */
char *igraph_seal_str(apr_pool_t *p, const igraph_key_t *key, const char *aad, const char *s);
char *igraph_unseal_str(apr_pool_t *p, const igraph_key_t *key, const char *aad,
                        const char *sealed);

void igraph_hmac_sha256(const void *key, apr_size_t klen, const void *msg, apr_size_t mlen,
                        unsigned char out[32]);
char *igraph_hmac_sha256_hex(apr_pool_t *p, const void *key, apr_size_t klen, const void *msg,
                             apr_size_t mlen);
char *igraph_sha256_hex(apr_pool_t *p, const void *data, apr_size_t len);

/* Constant-time equality (length difference is not secret). 1 when equal. */
int igraph_ct_equal(const void *a, apr_size_t alen, const void *b, apr_size_t blen);

/* Overwrites memory in a way the compiler cannot drop (OPENSSL_cleanse). */
void igraph_secure_zero(void *p, apr_size_t n);

/* Secrets in memory. Pool memory is handed back without being cleared, so buffers that held a
 * token or an app secret (decrypted values, Graph requests and answers) are registered to be
 * zeroed when their pool is cleared or destroyed. */
void igraph_wipe_on_clear(apr_pool_t *p, void *buf, apr_size_t len);
/* Registers the pool string s (may be NULL) to be zeroed with p and returns it, so a builder
 * can say: url = igraph_wipe_str(p, apr_pstrcat(p, ...)). */
char *igraph_wipe_str(apr_pool_t *p, char *s);
/* apr_pstrdup whose copy is zeroed with the pool; NULL for NULL. */
char *igraph_pstrdup_secret(apr_pool_t *p, const char *s);
/* len zeroed bytes for long-lived secrets (the token key, app secrets): a private anonymous
 * mapping marked MADV_DONTDUMP (left out of core dumps) and locked in RAM when RLIMIT_MEMLOCK
 * allows; zeroed and unmapped when p goes. Falls back to pool memory (wiped with p) if mmap
 * fails. */
void *igraph_secret_alloc(apr_pool_t *p, apr_size_t len);
/* A copy of s in igraph_secret_alloc memory; NULL for NULL. */
char *igraph_secret_strdup(apr_pool_t *p, const char *s);

/* Key material: exactly 32 raw bytes, or 64 hex digits optionally followed by whitespace. */
apr_status_t igraph_key_parse(igraph_key_t *key, const void *data, apr_size_t len);
/* Reads the key file. With create != 0 and the file missing, writes 64 hex digits + "\n" with
 * mode 0600 (O_EXCL) first. *perr gets a readable reason on failure (never key material). */
apr_status_t igraph_key_load(igraph_key_t *key, const char *path, int create, apr_pool_t *p,
                             const char **perr);

#endif
