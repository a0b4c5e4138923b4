/* smneo._archive: links libarchive (and through it its compressors and
 * libxml2) so that smneo._smneo can dlopen it when an archive is first touched
 * and take its functions from it (python/smneo/_lazy.c). Importing it
 * from Python gives an empty module. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <archive.h>

/* a reference, so that the linker keeps libarchive as a dependency even with --as-needed */
PyMODINIT_FUNC PyInit__archive(void);
void *smneo__archive_anchor(void);
__attribute__((visibility("default"))) void *smneo__archive_anchor(void) { return (void *)&archive_version_number; }

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "smneo._archive",
                                 "libarchive, loaded by smneo._smneo when an archive is first touched", 0, NULL};

PyMODINIT_FUNC PyInit__archive(void) { return PyModuleDef_Init(&def); }
