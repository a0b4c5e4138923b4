/* The CLI's plugins smneo-curl.so and smneo-archive.so (cmake/cli.cmake): each
 * links one library (libcurl, or libarchive) and with it that library's
 * dependency tree, so that the CLI, which links neither, can dlopen it on the
 * first request or the first archive touched and take the library's functions
 * from it (cli/lazy.c, core/lazy/lazy_deps.c). Nothing else is in them. */
#if defined(SMNEO_PLUGIN_CURL)
#include <curl/curl.h>
#define ANCHOR curl_version
#elif defined(SMNEO_PLUGIN_ARCHIVE)
#include <archive.h>
#define ANCHOR archive_version_number
#else
#error "define SMNEO_PLUGIN_CURL or SMNEO_PLUGIN_ARCHIVE"
#endif

/* a reference, so that the linker keeps the library as a dependency even
 * with --as-needed */
void *smneo__plugin_anchor(void);
__attribute__((visibility("default"))) void *smneo__plugin_anchor(void) { return (void *)&ANCHOR; }
