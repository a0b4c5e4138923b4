/* Private: the credential chain's internals shared with the client. Not
 * installed. */
#ifndef SMNEO_CREDENTIALS_INTERNAL_H
#define SMNEO_CREDENTIALS_INTERNAL_H

#include "smneo/auth.h"
#include "transport_internal.h"

/* smneo_credential_chain_get with the caller's transports for requests that
 * carry their own timeout (tt; used when t is NULL): a client's, kept
 * between resolutions. */
int smneo__credential_chain_get(smneo_credentials **out, smneo_credential_chain *chain, smneo_transport *t,
                                smneo__timed_transports *tt, smneo_error *err);

#endif
