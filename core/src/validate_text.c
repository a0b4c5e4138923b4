/* Validation, part 3: the one reading of CompilerOptions (tolerant: the
 * Python style the Neo documentation writes is read too, json.c), for the
 * validator's checks and the model layout check. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "validate_internal.h"

/* The one reading of CompilerOptions: the validator's checks
 * (validate_neo.c) and the model layout check both take it. */
cJSON *smneo__read_compiler_options(const char *text, int *python_style, size_t *errpos)
{
    return smneo__parse_loose_json(text, strlen(text), python_style, errpos);
}

int smneo__compiler_options_class_labels(const char *text, char **class_labels)
{
    *class_labels = NULL;
    cJSON *v = smneo__read_compiler_options(text, NULL, NULL);
    if (!cJSON_IsObject(v)) {
        cJSON_Delete(v);
        return SMNEO__CO_NOT_OBJECT;
    }
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(v, "class_labels");
    int rc = SMNEO__CO_OK;
    if (cl && !cJSON_IsString(cl))
        rc = SMNEO__CO_BAD_LABELS;
    else if (cl && !(*class_labels = smneo__strdup(cl->valuestring)))
        rc = SMNEO__CO_NOMEM;
    cJSON_Delete(v);
    return rc;
}
