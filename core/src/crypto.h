/* Private hashing helpers on OpenSSL 3 libcrypto: SHA-256 and HMAC-SHA256.
 *
 * Speed matters here (SigV4 hashes and MACs a few short strings per request)
 * and OpenSSL 3's EVP layer costs more than the hashing for short inputs
 * (provider dispatch, a context allocation per digest; HMAC()/EVP_Q_mac
 * fetch the MAC and the digest on every call: about 4-5 us each on the
 * build machine). So, when libcrypto still has the 3.0-deprecated SHA256_*
 * functions (it does unless built with no-deprecated), they are used on
 * stack contexts, and HMAC is computed directly (RFC 2104), with a key's
 * inner and outer pad blocks absorbed once (smneo__hmac_key) when the same
 * key signs many messages. Otherwise (or with -DSMNEO_CRYPTO_EVP_ONLY) the
 * same functions run on a once-fetched EVP_MD. Thread-safe. */
#ifndef SMNEO_CRYPTO_H
#define SMNEO_CRYPTO_H

#include <stddef.h>

#include <openssl/opensslconf.h>

#if !defined(OPENSSL_NO_DEPRECATED_3_0) && !defined(SMNEO_CRYPTO_EVP_ONLY)
#define SMNEO__CRYPTO_LOWLEVEL 1
#include <openssl/sha.h>
#else
#define SMNEO__CRYPTO_LOWLEVEL 0
#endif

#define SMNEO_SHA256_LEN 32

/* 0 on success, SMNEO_ERROR when libcrypto fails (no SHA-256 provider),
 * SMNEO_ENOMEM when it cannot allocate a digest context. */
int smneo__sha256(unsigned char out[SMNEO_SHA256_LEN], const void *data, size_t len);
/* out: 65 bytes, lowercase hex. */
int smneo__sha256_hex(char out[2 * SMNEO_SHA256_LEN + 1], const void *data, size_t len);
int smneo__hmac_sha256(unsigned char out[SMNEO_SHA256_LEN], const void *key, size_t key_len,
                       const void *data, size_t len);

/* An HMAC-SHA256 key prepared for repeated use. Plain data: may be copied
 * by assignment; wipe with smneo__wipe when done. */
typedef struct smneo__hmac_key {
#if SMNEO__CRYPTO_LOWLEVEL
    SHA256_CTX inner, outer; /* states after the ipad / opad block */
#else
    unsigned char key[SMNEO_SHA256_LEN];
    size_t len;
#endif
} smneo__hmac_key;

/* key_len <= 32 (a SHA-256 output, as SigV4 uses). */
int smneo__hmac_key_init(smneo__hmac_key *k, const unsigned char *key, size_t key_len);
int smneo__hmac_key_mac(unsigned char out[SMNEO_SHA256_LEN], const smneo__hmac_key *k, const void *data,
                        size_t len);

/* Overwrites memory the compiler may not optimise away. */
void smneo__wipe(void *p, size_t len);

#endif
