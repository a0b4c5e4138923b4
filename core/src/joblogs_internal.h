/* Private hooks of the job-log reader (joblogs.c). Not installed. */
#ifndef SMNEO_JOBLOGS_INTERNAL_H
#define SMNEO_JOBLOGS_INTERNAL_H

#include "smneo/joblogs.h"

/* Follow: hands the job's latest description over (caller-owned; NULL
 * before the first). */
smneo_result *smneo__joblogs_take_description(smneo_joblogs *l);

/* Follow, for many readers at once (smneo_compile_many): while the job runs,
 * each round makes one CloudWatch Logs request at most: DescribeLogStreams
 * (the first round, and after each pass over the known streams) or one
 * GetLogEvents page of one stream, the streams taken in turn (a stream with
 * more lines is read again in the next round). Lines of different streams
 * may then come out of time order between rounds. The round after the job's
 * end reads everything left, as without it. */
void smneo__joblogs_one_request_per_round(smneo_joblogs *l);

#endif
