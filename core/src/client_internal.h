/* Private accessors of client.c for the other core modules (s3.c,
 * compile.c). Not installed. Add declarations here; definitions live in
 * client.c. */
#ifndef SMNEO_CLIENT_INTERNAL_H
#define SMNEO_CLIENT_INTERNAL_H

#include "smneo/client.h"

/* The client's transport (borrowed; NULL for a no_transport client). */
smneo_transport *smneo__client_transport(const smneo_client *c);
/* The resolved S3 endpoint URL (borrowed; NULL: AWS virtual-hosted). */
const char *smneo__client_s3_endpoint(const smneo_client *c);

#endif
