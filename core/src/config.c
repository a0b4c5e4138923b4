/* The shared config (~/.aws/config) and credentials (~/.aws/credentials)
 * files: a small INI parser with botocore's rules, profile lookups, region
 * resolution and smneo_config_get. */
#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_internal.h"
#include "crypto.h"
#include "internal.h"
#include "smneo/auth.h"

/* ---- INI ------------------------------------------------------------------ */

typedef struct ini_entry {
    char *key;
    char *value;
    size_t len, cap; /* of value; cap 0: allocated at exactly len + 1 */
} ini_entry;

/* Entries in file order; a key may appear more than once: lookups search
 * from the end (the last value wins) so that parsing stays linear however
 * many keys a hostile file holds. */
typedef struct ini_section {
    char *name;
    ini_entry *entries;
    size_t count, cap;
} ini_section;

struct smneo__ini {
    ini_section *sections;
    size_t count;
};

void smneo__ini_free(smneo__ini *ini)
{
    if (!ini)
        return;
    for (size_t i = 0; i < ini->count; i++) {
        ini_section *s = &ini->sections[i];
        for (size_t j = 0; j < s->count; j++) {
            free(s->entries[j].key);
            smneo__free_secret(s->entries[j].value); /* may be a secret key */
        }
        free(s->entries);
        free(s->name);
    }
    free(ini->sections);
    free(ini);
}

static char *strip_dup(const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    return smneo__strndup(s, n);
}

static int add_section(smneo__ini *ini, const char *name, size_t n)
{
    ini_section *p = realloc(ini->sections, (ini->count + 1) * sizeof *p);
    if (!p)
        return SMNEO_ENOMEM;
    ini->sections = p;
    memset(&p[ini->count], 0, sizeof *p);
    p[ini->count].name = strip_dup(name, n);
    if (!p[ini->count].name)
        return SMNEO_ENOMEM;
    ini->count++;
    return 0;
}

/* Adds key (already lowercased, owned) = value (owned) to section s. */
static int set_entry(ini_section *s, char *key, char *value)
{
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        ini_entry *p = realloc(s->entries, cap * sizeof *p);
        if (!p) {
            free(key);
            smneo__free_secret(value);
            return SMNEO_ENOMEM;
        }
        s->entries = p;
        s->cap = cap;
    }
    ini_entry *e = &s->entries[s->count++];
    e->key = key;
    e->value = value;
    e->len = strlen(value);
    e->cap = 0;
    return 0;
}

/* The last entry of key (the one that wins). */
static ini_entry *find_entry(ini_section *s, const char *key)
{
    for (size_t i = s->count; i > 0; i--)
        if (!strcmp(s->entries[i - 1].key, key))
            return &s->entries[i - 1];
    return NULL;
}

/* Appends a continuation line (s, n) to e's value as "\n" + the stripped
 * line. Growth doubles (linear over many lines); the old block is wiped
 * (values may be secrets). */
static int append_line(ini_entry *e, const char *s, size_t n)
{
    while (n && isspace((unsigned char)*s))
        s++, n--;
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n == 0)
        return 0; /* the whole value is stripped: nothing to add */
    size_t sep = e->len ? 1 : 0;
    size_t need = e->len + sep + n + 1;
    if (need > (e->cap ? e->cap : e->len + 1)) {
        size_t cap = e->cap ? e->cap : 64;
        while (cap < need)
            cap *= 2;
        char *v = malloc(cap);
        if (!v)
            return SMNEO_ENOMEM;
        memcpy(v, e->value, e->len);
        smneo__free_secret(e->value);
        e->value = v;
        e->cap = cap;
    }
    if (sep)
        e->value[e->len++] = '\n';
    memcpy(e->value + e->len, s, n);
    e->len += n;
    e->value[e->len] = '\0';
    return 0;
}

static void lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Splits "k = v" / "k: v" at the first '=' or ':'. Returns 0 on success. */
static int split_kv(const char *line, size_t n, char **key, char **value)
{
    size_t d = 0;
    while (d < n && line[d] != '=' && line[d] != ':')
        d++;
    if (d == n)
        return -1;
    *key = strip_dup(line, d);
    *value = strip_dup(line + d + 1, n - d - 1);
    if (!*key || !*value) {
        free(*key);
        smneo__free_secret(*value);
        return SMNEO_ENOMEM;
    }
    lower(*key);
    if (!**key) {
        free(*key);
        smneo__free_secret(*value);
        return -1;
    }
    return 0;
}

int smneo__ini_parse(smneo__ini **out, const char *text, size_t len)
{
    if (!out)
        return SMNEO_EINVAL;
    *out = NULL;
    smneo__ini *ini = calloc(1, sizeof *ini);
    if (!ini)
        return SMNEO_ENOMEM;
    int rc = 0;
    /* State for continuation lines: the last key of the current section and
     * its indentation; `nested` when its value was empty (a sub-section). */
    char *last_key = NULL;
    size_t last_indent = 0;
    int nested = 0;
    size_t pos = 0;
    while (rc == 0 && pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n')
            end++;
        size_t n = end - pos;
        const char *line = text + pos;
        pos = end < len ? end + 1 : end;
        if (n && line[n - 1] == '\r')
            n--;
        size_t indent = 0;
        while (indent < n && (line[indent] == ' ' || line[indent] == '\t'))
            indent++;
        if (indent == n)
            continue; /* blank */
        const char *s = line + indent;
        size_t sn = n - indent;
        if (*s == '#' || *s == ';')
            continue; /* comment */
        ini_section *cur = ini->count ? &ini->sections[ini->count - 1] : NULL;
        if (cur && last_key && indent > last_indent) {
            /* Continuation of the previous key. */
            if (nested) {
                char *k = NULL, *v = NULL;
                int r = split_kv(s, sn, &k, &v);
                if (r == SMNEO_ENOMEM)
                    rc = r;
                if (r != 0)
                    continue;
                char *full = smneo__aprintf("%s.%s", last_key, k);
                free(k);
                if (!full) {
                    smneo__free_secret(v);
                    rc = SMNEO_ENOMEM;
                    continue;
                }
                rc = set_entry(cur, full, v);
            } else {
                ini_entry *e = find_entry(cur, last_key);
                if (e)
                    rc = append_line(e, s, sn);
            }
            continue;
        }
        if (*s == '[') {
            const char *close = NULL;
            for (size_t i = sn; i > 1; i--) {
                if (s[i - 1] == ']') {
                    close = s + i - 1;
                    break;
                }
            }
            if (close) {
                rc = add_section(ini, s + 1, (size_t)(close - s - 1));
                free(last_key);
                last_key = NULL;
                continue;
            }
        }
        if (!cur)
            continue; /* keys before any section header are ignored */
        char *k = NULL, *v = NULL;
        int r = split_kv(s, sn, &k, &v);
        if (r == SMNEO_ENOMEM)
            rc = r;
        if (r != 0)
            continue; /* a line without '=' is ignored */
        free(last_key);
        last_key = smneo__strdup(k);
        last_indent = indent;
        nested = (*v == '\0');
        if (!last_key) {
            free(k);
            smneo__free_secret(v);
            rc = SMNEO_ENOMEM;
            continue;
        }
        rc = set_entry(cur, k, v);
    }
    free(last_key);
    if (rc) {
        smneo__ini_free(ini);
        return rc;
    }
    *out = ini;
    return 0;
}

static ini_section *last_section(const smneo__ini *ini, const char *name)
{
    if (!ini)
        return NULL;
    for (size_t i = ini->count; i > 0; i--)
        if (!strcmp(ini->sections[i - 1].name, name))
            return &ini->sections[i - 1];
    return NULL;
}

const char *smneo__ini_get(const smneo__ini *ini, const char *section, const char *key)
{
    ini_section *s = last_section(ini, section);
    if (!s || !key)
        return NULL;
    ini_entry *e = find_entry(s, key);
    return e ? e->value : NULL;
}

/* ---- The two files ---------------------------------------------------------- */

static char *home_dir(void)
{
    const char *h = smneo__getenv("HOME");
    if (h)
        return smneo__strdup(h);
    return NULL;
}

/* AWS_CONFIG_FILE-style variable (with "~/" expansion) or ~/.aws/<name>. */
static char *file_path(const char *env, const char *name)
{
    const char *v = smneo__getenv(env);
    if (v)
        return smneo__expand_user(v);
    char *home = home_dir();
    if (!home)
        return NULL;
    char *p = smneo__aprintf("%s/.aws/%s", home, name);
    free(home);
    return p;
}

int smneo__read_secret_file(smneo_buf *b, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char chunk[4096];
    size_t got;
    while ((got = fread(chunk, 1, sizeof chunk, f)) > 0)
        smneo__buf_append(b, chunk, got);
    smneo__wipe(chunk, sizeof chunk);
    int bad = ferror(f);
    fclose(f);
    if (bad) {
        smneo__buf_free(b);
        errno = EIO;
        return -1;
    }
    if (b->failed) {
        smneo__buf_free(b);
        errno = ENOMEM;
        return -1;
    }
    return 0;
}

char *smneo__expand_user(const char *path)
{
    if (path[0] == '~' && (path[1] == '/' || path[1] == '\0')) {
        char *home = home_dir();
        if (home) {
            char *p = smneo__aprintf("%s%s", home, path + 1);
            free(home);
            return p;
        }
    }
    return smneo__strdup(path);
}

int smneo__ini_load(smneo__ini **out, int *exists, const char *path, const char *what, smneo_error *err)
{
    *exists = 0;
    *out = NULL;
    struct stat st;
    if (!path || stat(path, &st) != 0 || !S_ISREG(st.st_mode))
        return smneo__ini_parse(out, "", 0); /* missing: empty, as botocore */
    smneo_buf b = SMNEO_BUF_SECRET_INIT; /* the file may hold secret keys */
    if (smneo__read_secret_file(&b, path) != 0) {
        if (errno == ENOMEM)
            return smneo__error(err, SMNEO_ENOMEM, "out of memory reading %s", path);
        return smneo__error(err, SMNEO_EIO, "cannot read the %s file %s: %s", what, path, strerror(errno));
    }
    int rc = smneo__ini_parse(out, b.data ? b.data : "", b.len);
    smneo__buf_free(&b); /* wiped */
    if (rc)
        return smneo__error(err, rc, "out of memory parsing %s", path);
    *exists = 1;
    return 0;
}

void smneo__awsconfig_free(smneo__awsconfig *c)
{
    if (!c)
        return;
    free(c->config_path);
    free(c->credentials_path);
    smneo__ini_free(c->config);
    smneo__ini_free(c->credentials);
    free(c);
}

int smneo__awsconfig_load(smneo__awsconfig **out, smneo_error *err)
{
    *out = NULL;
    smneo__awsconfig *c = calloc(1, sizeof *c);
    if (!c)
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    c->config_path = file_path("AWS_CONFIG_FILE", "config");
    c->credentials_path = file_path("AWS_SHARED_CREDENTIALS_FILE", "credentials");
    int rc = smneo__ini_load(&c->config, &c->config_exists, c->config_path, "config", err);
    if (rc == 0)
        rc = smneo__ini_load(&c->credentials, &c->credentials_exists, c->credentials_path, "credentials", err);
    if (rc) {
        if (rc == SMNEO_ENOMEM && err && !err->message)
            smneo__error(err, rc, "out of memory");
        smneo__awsconfig_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

const char *smneo__profile_name(const char *explicit_profile)
{
    if (explicit_profile && *explicit_profile)
        return explicit_profile;
    /* botocore's session reads AWS_DEFAULT_PROFILE before AWS_PROFILE. */
    const char *env = smneo__getenv("AWS_DEFAULT_PROFILE");
    if (!env)
        env = smneo__getenv("AWS_PROFILE");
    return env ? env : "default";
}

const char *smneo__profile_origin(const char *explicit_profile)
{
    if (explicit_profile && *explicit_profile)
        return "the profile option";
    if (smneo__getenv("AWS_DEFAULT_PROFILE"))
        return "AWS_DEFAULT_PROFILE";
    return smneo__getenv("AWS_PROFILE") ? "AWS_PROFILE" : NULL;
}

/* The profile a config-file section stands for: "default" for [default],
 * NAME for [profile NAME] (any whitespace, optional double quotes), else
 * NULL. Writes into buf. */
static const char *config_section_profile(const char *section, char *buf, size_t bufsize)
{
    if (!strcmp(section, "default"))
        return "default";
    if (strncmp(section, "profile", 7) != 0 || !isspace((unsigned char)section[7]))
        return NULL;
    const char *p = section + 7;
    while (isspace((unsigned char)*p))
        p++;
    size_t n = strlen(p);
    if (n >= 2 && p[0] == '"' && p[n - 1] == '"') {
        p++;
        n -= 2;
    }
    if (n == 0 || n >= bufsize)
        return NULL;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

static ini_section *config_profile_section(const smneo__awsconfig *c, const char *profile)
{
    if (!c || !c->config || !profile)
        return NULL;
    char buf[512];
    for (size_t i = c->config->count; i > 0; i--) {
        const char *p = config_section_profile(c->config->sections[i - 1].name, buf, sizeof buf);
        if (p && !strcmp(p, profile))
            return &c->config->sections[i - 1];
    }
    return NULL;
}

const char *smneo__config_profile_get(const smneo__awsconfig *c, const char *profile, const char *key)
{
    ini_section *s = config_profile_section(c, profile);
    ini_entry *e = s ? find_entry(s, key) : NULL;
    return e ? e->value : NULL;
}

const char *smneo__credfile_profile_get(const smneo__awsconfig *c, const char *profile, const char *key)
{
    if (!c || !profile)
        return NULL;
    return smneo__ini_get(c->credentials, profile, key);
}

const char *smneo__profile_get(const smneo__awsconfig *c, const char *profile, const char *key)
{
    const char *v = smneo__credfile_profile_get(c, profile, key);
    return v ? v : smneo__config_profile_get(c, profile, key);
}

int smneo__profile_exists(const smneo__awsconfig *c, const char *profile)
{
    if (!c || !profile)
        return 0;
    return config_profile_section(c, profile) != NULL || last_section(c->credentials, profile) != NULL;
}

/* Section names such as "services  my-endpoints": compared word by word. */
static ini_section *config_named_section(const smneo__awsconfig *c, const char *section)
{
    if (!c || !c->config || !section)
        return NULL;
    size_t wlen = strcspn(section, " \t");
    const char *rest = section + wlen;
    while (isspace((unsigned char)*rest))
        rest++;
    for (size_t i = c->config->count; i > 0; i--) {
        ini_section *s = &c->config->sections[i - 1];
        const char *n = s->name;
        if (strncmp(n, section, wlen) != 0 || !isspace((unsigned char)n[wlen]))
            continue;
        n += wlen;
        while (isspace((unsigned char)*n))
            n++;
        if (!strcmp(n, rest))
            return s;
    }
    return NULL;
}

const char *smneo__config_section_get(const smneo__awsconfig *c, const char *section, const char *key)
{
    ini_section *s = config_named_section(c, section);
    ini_entry *e = s ? find_entry(s, key) : NULL;
    return e ? e->value : NULL;
}

int smneo__config_has_section(const smneo__awsconfig *c, const char *section)
{
    return config_named_section(c, section) != NULL;
}

char *smneo__awsconfig_describe(const smneo__awsconfig *c)
{
    const char *cp = c && c->config_path ? c->config_path : "(no path: HOME and AWS_CONFIG_FILE unset)";
    const char *kp = c && c->credentials_path ? c->credentials_path
                                               : "(no path: HOME and AWS_SHARED_CREDENTIALS_FILE unset)";
    return smneo__aprintf("the credentials file %s%s and the config file %s%s", kp,
                          c && c->credentials_exists ? "" : " (not found)", cp,
                          c && c->config_exists ? "" : " (not found)");
}

/* ---- Public: smneo_config_get, smneo_region_resolve ------------------------------ */

int smneo_config_get(char **out, const char *profile, const char *key, smneo_error *err)
{
    if (!out || !key)
        return smneo__error(err, SMNEO_EINVAL, "smneo_config_get: out and key are required");
    *out = NULL;
    smneo__awsconfig *c = NULL;
    int rc = smneo__awsconfig_load(&c, err);
    if (rc)
        return rc;
    char *k = smneo__strdup(key);
    if (!k) {
        smneo__awsconfig_free(c);
        return smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    lower(k);
    const char *v = smneo__profile_get(c, smneo__profile_name(profile), k);
    free(k);
    if (v) {
        *out = smneo__strdup(v);
        if (!*out) {
            smneo__awsconfig_free(c);
            return smneo__error(err, SMNEO_ENOMEM, "out of memory");
        }
    }
    smneo__awsconfig_free(c);
    return 0;
}

int smneo_region_resolve(char **out, const char *explicit_region, const char *profile, smneo_error *err)
{
    if (!out)
        return smneo__error(err, SMNEO_EINVAL, "smneo_region_resolve: out is required");
    *out = NULL;
    const char *v = (explicit_region && *explicit_region) ? explicit_region : NULL;
    if (!v)
        v = smneo__getenv("AWS_REGION");
    if (!v)
        v = smneo__getenv("AWS_DEFAULT_REGION");
    if (v) {
        *out = smneo__strdup(v);
        return *out ? 0 : smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    smneo__awsconfig *c = NULL;
    int rc = smneo__awsconfig_load(&c, err);
    if (rc)
        return rc;
    const char *name = smneo__profile_name(profile);
    v = smneo__profile_get(c, name, "region");
    if (v && *v) {
        *out = smneo__strdup(v);
        smneo__awsconfig_free(c);
        return *out ? 0 : smneo__error(err, SMNEO_ENOMEM, "out of memory");
    }
    char *where = smneo__awsconfig_describe(c);
    smneo__error(err, SMNEO_ENOREGION,
                 "no AWS region configured: looked at the region option, AWS_REGION, AWS_DEFAULT_REGION "
                 "and the 'region' setting of profile '%s' in %s; set one of them (e.g. AWS_REGION=us-east-1)",
                 name, where ? where : "the shared files");
    free(where);
    smneo__awsconfig_free(c);
    return SMNEO_ENOREGION;
}

/* A profile setting (smneo_config_get), caller-owned, or NULL. */
char *smneo__profile_setting(const char *profile, const char *key)
{
    char *v = NULL;
    smneo_config_get(&v, profile, key, NULL);
    return v;
}
