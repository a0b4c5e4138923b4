/* SHA-256 and HMAC-SHA256 on OpenSSL 3 (see crypto.h for the two paths). */
#define OPENSSL_SUPPRESS_DEPRECATED /* SHA256_Init/Update/Final: see crypto.h */
#include "crypto.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "internal.h"

#define SHA256_BLOCK 64

void smneo__wipe(void *p, size_t len)
{
    if (p && len)
        OPENSSL_cleanse(p, len);
}

int smneo__sha256_hex(char out[2 * SMNEO_SHA256_LEN + 1], const void *data, size_t len)
{
    unsigned char d[SMNEO_SHA256_LEN];
    int rc = smneo__sha256(d, data, len);
    if (rc)
        return rc;
    smneo__hex(out, d, sizeof d);
    return 0;
}

/* The key padded to one block (hashed first when longer than a block). */
static int block_key(unsigned char k[SHA256_BLOCK], const void *key, size_t key_len)
{
    memset(k, 0, SHA256_BLOCK);
    if (key_len > SHA256_BLOCK)
        return smneo__sha256(k, key, key_len);
    if (key_len)
        memcpy(k, key, key_len);
    return 0;
}

#if SMNEO__CRYPTO_LOWLEVEL

int smneo__sha256(unsigned char out[SMNEO_SHA256_LEN], const void *data, size_t len)
{
    SHA256_CTX c;
    int ok = SHA256_Init(&c) && SHA256_Update(&c, len ? data : "", len) && SHA256_Final(out, &c);
    return ok ? 0 : SMNEO_ERROR;
}

static int pad_states(SHA256_CTX *inner, SHA256_CTX *outer, const void *key, size_t key_len)
{
    unsigned char k[SHA256_BLOCK], pad[SHA256_BLOCK];
    int ok = block_key(k, key, key_len) == 0;
    for (size_t i = 0; i < SHA256_BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    ok = ok && SHA256_Init(inner) && SHA256_Update(inner, pad, SHA256_BLOCK);
    for (size_t i = 0; i < SHA256_BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    ok = ok && SHA256_Init(outer) && SHA256_Update(outer, pad, SHA256_BLOCK);
    smneo__wipe(k, sizeof k);
    smneo__wipe(pad, sizeof pad);
    return ok ? 0 : SMNEO_ERROR;
}

static int finish(unsigned char out[SMNEO_SHA256_LEN], SHA256_CTX *inner, SHA256_CTX *outer, const void *data,
                  size_t len)
{
    unsigned char ih[SMNEO_SHA256_LEN];
    int ok = SHA256_Update(inner, len ? data : "", len) && SHA256_Final(ih, inner) &&
             SHA256_Update(outer, ih, sizeof ih) && SHA256_Final(out, outer);
    smneo__wipe(ih, sizeof ih);
    return ok ? 0 : SMNEO_ERROR;
}

int smneo__hmac_sha256(unsigned char out[SMNEO_SHA256_LEN], const void *key, size_t key_len,
                       const void *data, size_t len)
{
    SHA256_CTX inner, outer;
    int rc = pad_states(&inner, &outer, key, key_len);
    if (!rc)
        rc = finish(out, &inner, &outer, data, len);
    smneo__wipe(&inner, sizeof inner);
    smneo__wipe(&outer, sizeof outer);
    return rc;
}

int smneo__hmac_key_init(smneo__hmac_key *k, const unsigned char *key, size_t key_len)
{
    if (key_len > SMNEO_SHA256_LEN)
        return SMNEO_EINVAL;
    return pad_states(&k->inner, &k->outer, key, key_len);
}

int smneo__hmac_key_mac(unsigned char out[SMNEO_SHA256_LEN], const smneo__hmac_key *k, const void *data,
                        size_t len)
{
    SHA256_CTX inner = k->inner, outer = k->outer;
    int rc = finish(out, &inner, &outer, data, len);
    smneo__wipe(&inner, sizeof inner);
    smneo__wipe(&outer, sizeof outer);
    return rc;
}

#else /* EVP path */

static EVP_MD *g_sha256;
static pthread_once_t g_sha256_once = PTHREAD_ONCE_INIT;

static void fetch_sha256(void)
{
    /* Kept for the life of the process (reachable through the global). */
    g_sha256 = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256_md(void)
{
    pthread_once(&g_sha256_once, fetch_sha256);
    return g_sha256;
}

int smneo__sha256(unsigned char out[SMNEO_SHA256_LEN], const void *data, size_t len)
{
    const EVP_MD *md = sha256_md();
    unsigned int n = 0;
    if (!md)
        return SMNEO_ERROR;
    if (!EVP_Digest(len ? data : "", len, out, &n, md, NULL) || n != SMNEO_SHA256_LEN)
        return SMNEO_ERROR;
    return 0;
}

int smneo__hmac_sha256(unsigned char out[SMNEO_SHA256_LEN], const void *key, size_t key_len,
                       const void *data, size_t len)
{
    const EVP_MD *md = sha256_md();
    if (!md)
        return SMNEO_ERROR;
    unsigned char k[SHA256_BLOCK], pad[SHA256_BLOCK], inner[SMNEO_SHA256_LEN];
    if (block_key(k, key, key_len))
        return SMNEO_ERROR;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx) {
        smneo__wipe(k, sizeof k);
        return SMNEO_ENOMEM;
    }
    int ok = 1;
    unsigned int n = 0;
    for (size_t i = 0; i < SHA256_BLOCK; i++)
        pad[i] = k[i] ^ 0x36;
    ok = ok && EVP_DigestInit_ex2(ctx, md, NULL);
    ok = ok && EVP_DigestUpdate(ctx, pad, SHA256_BLOCK);
    ok = ok && EVP_DigestUpdate(ctx, len ? data : "", len);
    ok = ok && EVP_DigestFinal_ex(ctx, inner, &n);
    for (size_t i = 0; i < SHA256_BLOCK; i++)
        pad[i] = k[i] ^ 0x5c;
    ok = ok && EVP_DigestInit_ex2(ctx, md, NULL);
    ok = ok && EVP_DigestUpdate(ctx, pad, SHA256_BLOCK);
    ok = ok && EVP_DigestUpdate(ctx, inner, sizeof inner);
    ok = ok && EVP_DigestFinal_ex(ctx, out, &n);
    EVP_MD_CTX_free(ctx);
    smneo__wipe(k, sizeof k);
    smneo__wipe(pad, sizeof pad);
    smneo__wipe(inner, sizeof inner);
    return ok ? 0 : SMNEO_ERROR;
}

int smneo__hmac_key_init(smneo__hmac_key *k, const unsigned char *key, size_t key_len)
{
    if (key_len > SMNEO_SHA256_LEN)
        return SMNEO_EINVAL;
    memcpy(k->key, key, key_len);
    k->len = key_len;
    return 0;
}

int smneo__hmac_key_mac(unsigned char out[SMNEO_SHA256_LEN], const smneo__hmac_key *k, const void *data,
                        size_t len)
{
    return smneo__hmac_sha256(out, k->key, k->len, data, len);
}

#endif
