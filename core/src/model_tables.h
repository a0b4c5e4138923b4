/* Private: the generated tables (model_tables.c, tools/gen_model.py). */
#ifndef SMNEO_MODEL_TABLES_H
#define SMNEO_MODEL_TABLES_H
#include "smneo/model.h"

/* Every service, in the order of model/ (sorted by name). */
extern const smneo_service *const smneo__services[];
extern const size_t smneo__service_count;
/* The service the client calls and the bindings expose (SageMaker). */
extern const smneo_service *const smneo__client_service;

#endif
