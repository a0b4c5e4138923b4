/* smneo._curl: links libcurl (and through it OpenSSL and the rest of its
 * dependency tree) so that smneo._smneo can dlopen it on the first request
 * and take libcurl's functions from it (python/smneo/_lazy.c). Importing it
 * from Python gives an empty module. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <curl/curl.h>

/* a reference, so that the linker keeps libcurl as a dependency even with --as-needed */
PyMODINIT_FUNC PyInit__curl(void);
void *smneo__curl_anchor(void);
__attribute__((visibility("default"))) void *smneo__curl_anchor(void) { return (void *)&curl_version; }

static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "smneo._curl",
                                 "libcurl, loaded by smneo._smneo on the first request", 0, NULL};

PyMODINIT_FUNC PyInit__curl(void) { return PyModuleDef_Init(&def); }
