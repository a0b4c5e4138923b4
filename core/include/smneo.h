/* smneo.h: umbrella header for libsmneo, a client for the SageMaker Neo
 * compilation API. */
#ifndef SMNEO_H
#define SMNEO_H

#include "smneo/version.h"
#include "smneo/common.h"
#include "smneo/model.h"
#include "smneo/http.h"
#include "smneo/value.h"
#include "smneo/auth.h"
#include "smneo/endpoint.h"
#include "smneo/error.h"
#include "smneo/protocol.h"
#include "smneo/transport.h"
#include "smneo/client.h"
#include "smneo/validate.h"
#include "smneo/log.h"
#include "smneo/artifact.h"
#include "smneo/s3.h"
#include "smneo/compile.h"
#include "smneo/diagnose.h"
#include "smneo/joblogs.h"

#endif
