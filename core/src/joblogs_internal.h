/* Private hooks of the job-log reader (joblogs.c). Not installed. */
#ifndef SMNEO_JOBLOGS_INTERNAL_H
#define SMNEO_JOBLOGS_INTERNAL_H

#include "smneo/joblogs.h"

/* Follow: hands the job's latest description over (caller-owned; NULL
 * before the first). */
smneo_result *smneo__joblogs_take_description(smneo_joblogs *l);

#endif
