/* model_gen: writes a model directory of about SIZE_MB megabytes whose bytes
 * look, to a compressor, like a real model's. Deterministic (fixed seed).
 *
 *   model_gen DIR SIZE_MB
 *
 * Shares of the size (files of at most 48 MiB):
 *   45 %  float32 weights drawn from N(0, 0.02)   (layerN.weight)
 *   10 %  float32 weights, half of them pruned to 0 (pruned/layerN.weight)
 *   20 %  bfloat16 weights, N(0, 0.05)             (half/layerN.weight)
 *   15 %  int8 quantized weights                    (quant/layerN.int8)
 *    8 %  already-compressed bytes (random)          (assets/blobN.bin)
 *    2 %  JSON text (config and vocabulary)          (config.json, vocab.json)
 * Run by bench/bench_artifact.py. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static uint64_t s = 0x9E3779B97F4A7C15ull;
static uint64_t next(void)
{
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    return s;
}
static double unif(void) { return ((next() >> 11) + 0.5) / 9007199254740992.0; }
static double gauss(void) { return sqrt(-2 * log(unif())) * cos(6.283185307179586 * unif()); }

enum kind { F32, PRUNED, F16, I8, BLOB };

static int write_kind(const char *path, enum kind k, long long n)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        perror(path);
        return -1;
    }
    unsigned char buf[1 << 16];
    size_t used = 0;
    for (long long done = 0; done < n;) {
        unsigned char item[8];
        size_t len;
        if (k == F32 || k == PRUNED) {
            float v = (k == PRUNED && (next() & 1)) ? 0.0f : (float)(gauss() * 0.02);
            memcpy(item, &v, 4);
            len = 4;
        } else if (k == F16) {
            float v = (float)(gauss() * 0.05);
            uint32_t b;
            memcpy(&b, &v, 4);
            uint16_t h = (uint16_t)(b >> 16); /* bfloat16: the upper half of a float32 */
            memcpy(item, &h, 2);
            len = 2;
        } else if (k == I8) {
            long q = lround(gauss() * 20);
            item[0] = (unsigned char)(signed char)(q > 127 ? 127 : q < -127 ? -127 : q);
            len = 1;
        } else {
            uint64_t r = next();
            memcpy(item, &r, 8);
            len = 8;
        }
        if (len > (size_t)(n - done))
            len = (size_t)(n - done);
        if (used + len > sizeof buf) {
            fwrite(buf, 1, used, f);
            used = 0;
        }
        memcpy(buf + used, item, len);
        used += len;
        done += (long long)len;
    }
    fwrite(buf, 1, used, f);
    return fclose(f);
}

static int write_text(const char *dir, long long n)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", dir);
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "{\"architectures\": [\"ResNet\"], \"layers\": [\n");
    for (int k = 0; k < 2000; k++)
        fprintf(f, "  {\"layer\": %d, \"activation\": \"relu\", \"units\": %d, \"dropout\": %.2f},\n", k,
                64 + k % 512, (k % 7) / 10.0);
    fprintf(f, "  {}\n]}\n");
    long long used = ftell(f);
    fclose(f);
    snprintf(path, sizeof path, "%s/vocab.json", dir);
    f = fopen(path, "w");
    if (!f)
        return -1;
    static const char *const parts[] = {"tion", "ing", "er", "pre", "un", "ment", "al", "ous", "re", "st", "ed",
                                        "com", "con", "ly", "ness", "in", "de", "able", "ize", "ship"};
    fputc('{', f);
    for (long k = 0; used < n; k++) {
        char word[64];
        int len = 0;
        for (int p = 0; p < 1 + (int)(next() % 4); p++)
            len += snprintf(word + len, sizeof word - (size_t)len, "%s", parts[next() % 20]);
        used += fprintf(f, "%s\"%s%ld\": %ld", k ? ", " : "", word, k % 97, k);
    }
    fputs("}\n", f);
    return fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 3 || atoll(argv[2]) <= 0) {
        fprintf(stderr, "usage: model_gen DIR SIZE_MB\n");
        return 2;
    }
    const char *dir = argv[1];
    long long total = atoll(argv[2]) << 20;
    static const struct {
        enum kind k;
        int percent;
        const char *sub, *pattern;
    } plan[] = {{F32, 45, "", "layer%d.weight"},
                {PRUNED, 10, "pruned", "layer%d.weight"},
                {F16, 20, "half", "layer%d.weight"},
                {I8, 15, "quant", "layer%d.int8"},
                {BLOB, 8, "assets", "blob%d.bin"}};
    char path[4096];
    long long written = 0;
    for (size_t p = 0; p < sizeof plan / sizeof *plan; p++) {
        if (*plan[p].sub) {
            snprintf(path, sizeof path, "%s/%s", dir, plan[p].sub);
            mkdir(path, 0755);
        }
        long long want = total * plan[p].percent / 100;
        for (int i = 0; want > 0; i++) {
            long long n = want > (48ll << 20) ? (48ll << 20) : want;
            char name[256];
            snprintf(name, sizeof name, plan[p].pattern, i);
            snprintf(path, sizeof path, "%s%s%s/%s", dir, *plan[p].sub ? "/" : "", plan[p].sub, name);
            if (write_kind(path, plan[p].k, n) != 0)
                return 1;
            want -= n;
            written += n;
        }
    }
    return write_text(dir, total - written) == 0 ? 0 : 1;
}
