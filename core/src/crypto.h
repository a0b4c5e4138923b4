/* Private hashing helpers on OpenSSL 3 libcrypto: SHA-256 and HMAC-SHA256.
 *
 * The SHA-256 implementation is fetched once per process (an implicit fetch
 * on every call costs more than hashing a short string), and HMAC is computed
 * over it directly (RFC 2104) instead of through HMAC()/EVP_Q_mac, which
 * fetch the MAC and the digest again on every call. Thread-safe. */
#ifndef SMNEO_CRYPTO_H
#define SMNEO_CRYPTO_H

#include <stddef.h>

#define SMNEO_SHA256_LEN 32

/* 0 on success, SMNEO_ERROR when libcrypto fails (no SHA-256 provider),
 * SMNEO_ENOMEM when it cannot allocate a digest context. */
int smneo__sha256(unsigned char out[SMNEO_SHA256_LEN], const void *data, size_t len);
/* out: 65 bytes, lowercase hex. */
int smneo__sha256_hex(char out[2 * SMNEO_SHA256_LEN + 1], const void *data, size_t len);
int smneo__hmac_sha256(unsigned char out[SMNEO_SHA256_LEN], const void *key, size_t key_len,
                       const void *data, size_t len);

/* Overwrites memory the compiler may not optimise away. */
void smneo__wipe(void *p, size_t len);

#endif
