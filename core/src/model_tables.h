/* Private: the generated tables (model_tables.c) and their lookup. */
#ifndef SMNEO_MODEL_TABLES_H
#define SMNEO_MODEL_TABLES_H
#include "smneo/model.h"

extern const smneo_shape *const smneo__shapes[];
extern const size_t smneo__shape_count;
extern const smneo_operation smneo__operations[];
extern const size_t smneo__operation_count;
extern const char smneo__api_version[];
extern const char smneo__target_prefix[];
extern const char smneo__signing_name[];
extern const char smneo__endpoint_prefix[];

#endif
