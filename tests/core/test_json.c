/* The strict JSON parse's fast path (core/src/json.c) against cJSON itself:
 * whatever the fast path reads must be the tree cJSON makes of the same text
 * (types, keys, strings, numbers to the bit, valueint, links), and whatever
 * cJSON refuses the fast path must leave to it. Run on every JSON fixture and
 * on edge cases of numbers, strings, literals, nesting and whitespace. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "harness.h"
#include "json_internal.h"
#include "smneo/model.h"

static int same_tree(const cJSON *a, const cJSON *b)
{
    for (; a && b; a = a->next, b = b->next) {
        /* the fast path's strings carry their text in the node's block, marked
         * cJSON_IsReference (cJSON_Delete then frees the one block); every
         * other flag and the type are cJSON's */
        const int ours = cJSON_IsReference | cJSON_StringIsConst; /* and the model's keys: see below */
        if ((a->type & ~ours) != (b->type & ~ours) || a->valueint != b->valueint)
            return 0;
        if (memcmp(&a->valuedouble, &b->valuedouble, sizeof a->valuedouble) &&
            !(isnan(a->valuedouble) && isnan(b->valuedouble)))
            return 0;
        if (!a->string != !b->string || (a->string && strcmp(a->string, b->string)))
            return 0;
        if (!a->valuestring != !b->valuestring || (a->valuestring && strcmp(a->valuestring, b->valuestring)))
            return 0;
        if (!a->child != !b->child)
            return 0;
        if (a->child) {
            /* cJSON links the first child's prev to the last */
            const cJSON *la = a->child, *lb = b->child;
            while (la->next)
                la = la->next;
            while (lb->next)
                lb = lb->next;
            if (a->child->prev != la || b->child->prev != lb)
                return 0;
            if (!same_tree(a->child, b->child))
                return 0;
        }
    }
    return !a && !b;
}

/* cJSON's own reading of exactly [text, text+len), whitespace after allowed. */
static cJSON *reference(const char *text, size_t len)
{
    const char *end = NULL;
    cJSON *v = cJSON_ParseWithLengthOpts(text, len, &end, 0);
    if (v && end) {
        while (end < text + len && (*end == ' ' || *end == '\t' || *end == '\n' || *end == '\r'))
            end++;
        if (end != text + len) {
            cJSON_Delete(v);
            v = NULL;
        }
    }
    return v;
}

static int fast_read; /* how many texts the fast path read */

/* The fast path agrees with cJSON on text; expect_fast: it must read it. */
static void compare(const char *text, size_t len, int expect_fast)
{
    cJSON *fast = smneo__parse_json_fast(text, len);
    cJSON *ref = reference(text, len);
    if (fast) {
        fast_read++;
        CHECK_MSG(ref != NULL, "fast path read what cJSON refuses: %.*s", (int)(len > 200 ? 200 : len), text);
        CHECK_MSG(ref && same_tree(fast, ref), "trees differ: %.*s", (int)(len > 200 ? 200 : len), text);
    }
    if (expect_fast)
        CHECK_MSG(fast != NULL, "fast path gave up on: %.*s", (int)(len > 200 ? 200 : len), text);
    /* the strict parse (fast path, then cJSON) accepts exactly what cJSON does */
    cJSON *strict = smneo__parse_json_strict(text, len, NULL, NULL);
    if (len && (unsigned char)text[0] <= 0x20 && text[0] != ' ' && text[0] != '\t' && text[0] != '\n' &&
        text[0] != '\r') {
        CHECK(strict == NULL); /* the strict parse refuses a leading control byte itself */
    } else {
        CHECK_MSG(!strict == !ref, "strict and cJSON disagree: %.*s", (int)(len > 200 ? 200 : len), text);
        CHECK(!strict || !ref || same_tree(strict, ref));
    }
    cJSON_Delete(fast);
    cJSON_Delete(ref);
    cJSON_Delete(strict);
}

static void compare_str(const char *text, int expect_fast)
{
    compare(text, strlen(text), expect_fast);
}

static void test_edge_cases(void)
{
    static const char *fast[] = {
        "0", "-0", "1", "-1", "1.5", "-1.25", "1700000001.25", "1e22", "1E+2", "2.5e-21", "123.456e-5",
        "9007199254740992", "0.1", "0.3000000000000004", "4294967296", "2147483647", "2147483648",
        "-2147483649", "1e-0", "[]", "{}", " [ 1 , 2 ] ", "\t{\r\n\"a\" : [true, false, null] }\n",
        "\"\"", "\"a\\\"b\\\\c\\/d\\be\\ff\\ng\\rh\\ti\"", "\"caf\xc3\xa9\"", "\"\xff\xfe bytes kept as they are\"",
        "{\"a\":1,\"a\":2}", "[[[[[[[[[[1]]]]]]]]]]", "{\"k\":{\"l\":{\"m\":\"v\"}}}", "true", "false", "null",
        "\"0123456789abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz\\n\"",
    };
    for (size_t i = 0; i < sizeof fast / sizeof *fast; i++)
        compare_str(fast[i], 1);
    static const char *other[] = {
        /* left to cJSON: beyond the exact fast path, or not JSON */
        "1e23", "2.5e-22", "0.30000000000000004", "9007199254740993", "12345678901234567890", "1.7976931348623157e308", "5e-324", "01", "1.",
        ".5", "-", "+1", "1e", "1e+", "--1", "1.5.3", "0x10", "\"\\u0041\"", "\"\\ud83d\\ude00\"", "\"\\ud83d\"",
        "\"\\x\"", "\"a\tb\"", "\"a\nb\"", "\"unterminated", "\"\\", "nul", "truex", "[1,]", "{\"a\":1,}", "[1 2]",
        "{\"a\" 1}", "{1:2}", "", " ", "\f1", "1\f", "\v[]", "[1]x", "[1] [2]", "{\"a\":\"b\"", "[", "]", "}",
        "NaN", "Infinity", "-Infinity", "[1e400]", "[-1e400]", "{\"a\":\"\\u0000\"}",
    };
    for (size_t i = 0; i < sizeof other / sizeof *other; i++)
        compare_str(other[i], 0);
    /* a quote, an escape or a control byte at every offset of strings up to
     * 40 bytes (the scan's 16-byte, 8-byte and byte steps) */
    static const char *special[] = {"\\n", "\\\"", "\\u0041", "\t", "\x01", "\x1f", "\x7f", "\xc3\xa9"};
    for (size_t k = 0; k < sizeof special / sizeof *special; k++) {
        for (int len = 0; len <= 40; len++) {
            for (int at = 0; at <= len; at++) {
                char t[64];
                int o = 0;
                t[o++] = '"';
                for (int i = 0; i < len; i++) {
                    if (i == at)
                        o += snprintf(t + o, sizeof t - (size_t)o, "%s", special[k]);
                    t[o++] = (char)('a' + i % 26);
                }
                t[o++] = '"';
                t[o] = '\0';
                /* the fast path reads two-character escapes and bytes >= 0x7f; \u and controls go to cJSON */
                compare(t, (size_t)o, k < 2 || k >= 6);
            }
        }
    }
    /* text with a NUL inside the given length */
    compare("[1]\0", 4, 0);
    compare("\"a\0b\"", 5, 0);
    /* nesting: the fast path reads 200 levels, cJSON decides deeper ones (it stops at 1000) */
    for (int depth = 199; depth <= 1002; depth += (depth < 202 ? 1 : depth < 998 ? 398 : 1)) {
        char *t = malloc((size_t)depth * 2 + 2);
        memset(t, '[', (size_t)depth);
        memset(t + depth, ']', (size_t)depth);
        t[2 * depth] = '\0';
        compare(t, (size_t)depth * 2, depth <= 199);
        free(t);
    }
}

static void walk_fixtures(const char *dir, int *files)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(path, &st))
            continue;
        if (S_ISDIR(st.st_mode)) {
            walk_fixtures(path, files);
            continue;
        }
        size_t n = strlen(e->d_name);
        if (n < 5 || strcmp(e->d_name + n - 5, ".json"))
            continue;
        FILE *f = fopen(path, "rb");
        if (!f)
            continue;
        char *buf = malloc((size_t)st.st_size + 1);
        size_t got = fread(buf, 1, (size_t)st.st_size, f);
        fclose(f);
        compare(buf, got, 0);
        (*files)++;
        free(buf);
    }
    closedir(d);
}

static void test_fixtures(void)
{
    const char *root = getenv("SMNEO_FIXTURES") ? getenv("SMNEO_FIXTURES") : "tests/fixtures";
    int files = 0;
    int before = fast_read;
    walk_fixtures(root, &files);
    CHECK_MSG(files >= 40, "only %d JSON fixtures found under %s", files, root);
    /* most fixtures are plain JSON: the fast path must be reading them */
    CHECK_MSG(fast_read - before >= files / 2, "fast path read %d of %d fixtures", fast_read - before, files);
    /* the answer the benchmarks parse, and a describe fixture */
    char path[4096];
    snprintf(path, sizeof path, "%s/protocol/describe_completed.json", root);
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f) {
        char buf[65536];
        size_t got = fread(buf, 1, sizeof buf, f);
        fclose(f);
        compare(buf, got, 1);
    }
}

/* What the project does with a parsed tree works on the fast path's string
 * nodes: a copy (cJSON_Duplicate) outlives the original, a detached string
 * node is deleted alone, a replaced one too, printing gives cJSON's text;
 * ASan and valgrind check that each block is freed once. */
static void test_string_nodes(void)
{
    const char *text = "{\"Name\":\"resnet50\",\"Tags\":[\"a\",\"b\\n\"],\"N\":1,\"Deep\":{\"S\":\"v\"}}";
    cJSON *fast = smneo__parse_json_fast(text, strlen(text));
    CHECK(fast != NULL);
    if (!fast)
        return;
    CHECK(cJSON_IsString(cJSON_GetObjectItem(fast, "Name")));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(fast, "Name")), "resnet50");
    cJSON *copy = cJSON_Duplicate(fast, 1);
    char *printed = cJSON_PrintUnformatted(fast);
    CHECK_STR(printed, text);
    cJSON_free(printed);
    cJSON_Delete(cJSON_DetachItemFromObject(fast, "Name"));
    CHECK(cJSON_ReplaceItemInArray(cJSON_GetObjectItem(fast, "Tags"), 0, cJSON_CreateString("c")));
    CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(fast, "Tags"), 0)), "c");
    cJSON_Delete(fast);
    CHECK(copy != NULL);
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(copy, "Name")), "resnet50");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetArrayItem(cJSON_GetObjectItem(copy, "Tags"), 1)), "b\n");
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(copy, "Deep"), "S")), "v");
    cJSON_Delete(copy);
}

/* A response read with its output shape: the same tree as cJSON's, the keys
 * of known members are the model's own names (not copies), others (a member
 * newer than the model, a map's keys) are the text's; a copy outlives the
 * original, and a text the fast path gives up on still parses (by cJSON). */
static void test_shaped(void)
{
    const smneo_operation *op = smneo_model_operation("DescribeCompilationJob");
    CHECK(op != NULL && op->output != NULL);
    if (!op || !op->output)
        return;
    size_t len = 0;
    char *text = smneo_test_read_file(smneo_test_fixture("protocol/describe_completed.json"), &len);
    CHECK(text != NULL);
    if (!text)
        return;
    cJSON *shaped = smneo__parse_json_fast_shaped(text, len, op->output);
    cJSON *ref = reference(text, len);
    CHECK(shaped && ref && same_tree(shaped, ref));
    int known = 0;
    for (cJSON *c = shaped ? shaped->child : NULL; c; c = c->next) {
        const smneo_member *m = NULL;
        for (size_t i = 0; i < op->output->member_count; i++)
            if (!strcmp(op->output->members[i].name, c->string))
                m = &op->output->members[i];
        CHECK_MSG(m != NULL, "%s is not a member of the output", c->string);
        if (m) {
            CHECK_MSG(c->string == m->name && (c->type & cJSON_StringIsConst), "%s: not the model's name", c->string);
            known++;
        }
    }
    CHECK(known >= 10);
    const cJSON *sc = cJSON_GetObjectItem(shaped, "StoppingCondition");
    CHECK(sc && sc->child && (sc->child->type & cJSON_StringIsConst)); /* nested structures too */
    cJSON *copy = cJSON_Duplicate(shaped, 1);
    cJSON_Delete(shaped);
    CHECK(copy && ref && same_tree(copy, ref));
    cJSON_Delete(copy);
    cJSON_Delete(ref);
    free(text);

    /* an unknown member, a map (keys are data), an escaped key, then a text left to cJSON */
    const char *other = "{\"CompilationJobName\":\"a\",\"NewerThanTheModel\":{\"CompilationJobName\":1},"
                        "\"Compilation\\u004aobArn\":\"x\"}";
    cJSON *o = smneo__parse_json_strict_shaped(other, strlen(other), op->output, NULL, NULL);
    CHECK(o != NULL);
    cJSON *n = cJSON_GetObjectItem(o, "NewerThanTheModel");
    CHECK(n && n->child && !(n->child->type & cJSON_StringIsConst)); /* not a structure of the model */
    CHECK_STR(cJSON_GetStringValue(cJSON_GetObjectItem(o, "CompilationJobArn")), "x");
    cJSON_Delete(o);
    const char *esc = "{\"Compilation\\/JobName\":\"a\",\"CompilationJobName\":\"b\"}";
    o = smneo__parse_json_fast_shaped(esc, strlen(esc), op->output);
    CHECK(o && o->child && !(o->child->type & cJSON_StringIsConst) && !strcmp(o->child->string, "Compilation/JobName"));
    CHECK(o && o->child && o->child->next && (o->child->next->type & cJSON_StringIsConst));
    cJSON_Delete(o);
    /* given up on mid-way (a \u escape after known keys): nothing leaks, nothing static is wiped */
    const char *bad = "{\"CompilationJobName\":\"a\",\"CompilationJobArn\":\"\\u0041\"}";
    CHECK(smneo__parse_json_fast_shaped(bad, strlen(bad), op->output) == NULL);
    CHECK_STR(op->output->members[0].name[0] ? "named" : "", "named");
}

int main(void)
{
    RUN(test_edge_cases);
    RUN(test_string_nodes);
    RUN(test_shaped);
    RUN(test_fixtures);
    return smneo_test_summary("json");
}
