/* SHA-256 and HMAC-SHA256 over a once-fetched OpenSSL 3 EVP_MD (see crypto.h). */
#include "crypto.h"

#include <pthread.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "internal.h"

#define SHA256_BLOCK 64

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

void smneo__wipe(void *p, size_t len)
{
    if (p && len)
        OPENSSL_cleanse(p, len);
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

int smneo__sha256_hex(char out[2 * SMNEO_SHA256_LEN + 1], const void *data, size_t len)
{
    unsigned char d[SMNEO_SHA256_LEN];
    int rc = smneo__sha256(d, data, len);
    if (rc)
        return rc;
    smneo__hex(out, d, sizeof d);
    return 0;
}

int smneo__hmac_sha256(unsigned char out[SMNEO_SHA256_LEN], const void *key, size_t key_len,
                       const void *data, size_t len)
{
    const EVP_MD *md = sha256_md();
    if (!md)
        return SMNEO_ERROR;
    unsigned char k[SHA256_BLOCK], pad[SHA256_BLOCK], inner[SMNEO_SHA256_LEN];
    memset(k, 0, sizeof k);
    if (key_len > SHA256_BLOCK) {
        if (smneo__sha256(k, key, key_len))
            return SMNEO_ERROR;
    } else if (key_len) {
        memcpy(k, key, key_len);
    }
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
