/* transport_internal.h: the one place where requests that carry their own
 * timeout (credential requests: IMDS, the container endpoint, STS for a
 * role) get it applied, for the call machine's SEND steps
 * (smneo_call_send) and the blocking credential chain
 * (smneo_credential_chain_get) alike. */
#ifndef SMNEO_TRANSPORT_INTERNAL_H
#define SMNEO_TRANSPORT_INTERNAL_H

#include "smneo/transport.h"

/* libcurl transports, one per timeout, made on first use and kept until
 * smneo__timed_transports_free. Safe to share between threads. */
typedef struct smneo__timed_transports smneo__timed_transports;

int smneo__timed_transports_new(smneo__timed_transports **out);
void smneo__timed_transports_free(smneo__timed_transports *tt);

/* Sends req with connect and read timeouts of timeout_ms (> 0). */
int smneo__send_timed(smneo_response **out, smneo__timed_transports *tt, const smneo_request *req,
                      long timeout_ms, smneo_error *err);

#endif
