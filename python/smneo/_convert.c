/* Conversion between Python values and the core's JSON / typed values. */
#include "_smneo.h"

#include <datetime.h>
#include <math.h>
#include <time.h>
#include <string.h>

/* ---- Python -> JSON --------------------------------------------------------- */

/* The field path of the value being converted, for error messages:
 * "OutputConfig.CompilerOptions", "Tags[3].Key". */
typedef struct path_buf {
    char *data;
    size_t len, cap;
} path_buf;

static int path_push(path_buf *p, const char *s, size_t n, int index, Py_ssize_t i)
{
    char tmp[32];
    if (index) {
        int k = snprintf(tmp, sizeof tmp, "[%zd]", i);
        s = tmp;
        n = (size_t)k;
    }
    size_t need = p->len + n + 2;
    if (need > p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        while (cap < need)
            cap *= 2;
        char *d = PyMem_Realloc(p->data, cap);
        if (!d) {
            PyErr_NoMemory();
            return -1;
        }
        p->data = d;
        p->cap = cap;
    }
    if (!index && p->len)
        p->data[p->len++] = '.';
    memcpy(p->data + p->len, s, n);
    p->len += n;
    p->data[p->len] = '\0';
    return 0;
}

static const char *path_str(const path_buf *p)
{
    return p->len ? p->data : "";
}

static int write_value(smneo_state *st, smneo_jsonw *w, PyObject *obj, path_buf *path, int depth);

static int type_error(smneo_state *st, PyObject *obj, const path_buf *path, const char *valid)
{
    PyObject *r = PyObject_Repr(obj);
    const char *rs = r ? PyUnicode_AsUTF8(r) : NULL;
    if (!rs)
        PyErr_Clear();
    const char *p = path_str(path);
    smneo_py_param_error(st, p, "type",
                         "Invalid type for parameter %s, value: %.200s, type: <class '%s'>, valid types: %s",
                         *p ? p : "(params)", rs ? rs : "?", Py_TYPE(obj)->tp_name, valid);
    Py_XDECREF(r);
    return -1;
}

int smneo_py_convert_init(void)
{
    PyDateTimeAPI = (PyDateTime_CAPI *)smneo_py_datetime_capi();
    return PyDateTimeAPI ? 0 : -1;
}

int smneo_py_epoch(PyObject *obj, double *out)
{
    if (PyFloat_Check(obj) || PyLong_Check(obj)) {
        double d = PyFloat_AsDouble(obj);
        if (d == -1.0 && PyErr_Occurred())
            return -1;
        *out = d;
        return 0;
    }
    if (!PyDateTime_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "expected a datetime or epoch seconds, got %s", Py_TYPE(obj)->tp_name);
        return -1;
    }
    PyObject *tz = PyDateTime_DATE_GET_TZINFO(obj);
    if (tz == Py_None) {
        /* Naive datetimes are UTC, as botocore treats them. */
        int y = PyDateTime_GET_YEAR(obj), m = PyDateTime_GET_MONTH(obj), d = PyDateTime_GET_DAY(obj);
        /* days from civil (Howard Hinnant's algorithm) */
        y -= m <= 2;
        long era = (y >= 0 ? y : y - 399) / 400;
        long yoe = (long)(y - era * 400);
        long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
        long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        long days = era * 146097 + doe - 719468;
        *out = (double)days * 86400.0 + PyDateTime_DATE_GET_HOUR(obj) * 3600.0 +
               PyDateTime_DATE_GET_MINUTE(obj) * 60.0 + PyDateTime_DATE_GET_SECOND(obj) +
               PyDateTime_DATE_GET_MICROSECOND(obj) / 1e6;
        return 0;
    }
    PyObject *ts = PyObject_CallMethod(obj, "timestamp", NULL);
    if (!ts)
        return -1;
    double d = PyFloat_AsDouble(ts);
    Py_DECREF(ts);
    if (d == -1.0 && PyErr_Occurred())
        return -1;
    *out = d;
    return 0;
}

static int jsonw_check(int rc)
{
    if (rc == 0)
        return 0;
    if (rc == SMNEO_ENOMEM)
        PyErr_NoMemory();
    else
        PyErr_Format(PyExc_RuntimeError, "smneo: JSON writer failed (%s)", smneo_strerror(rc));
    return -1;
}

static int write_dict(smneo_state *st, smneo_jsonw *w, PyObject *obj, path_buf *path, int depth)
{
    if (jsonw_check(smneo_jsonw_begin_object(w)))
        return -1;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    size_t saved = path->len;
    while (PyDict_Next(obj, &pos, &k, &v)) {
        if (!PyUnicode_Check(k)) {
            PyObject *r = PyObject_Repr(k);
            const char *rs = r ? PyUnicode_AsUTF8(r) : NULL;
            if (!rs)
                PyErr_Clear();
            const char *p = path_str(path);
            smneo_py_param_error(st, p, "type", "Invalid key %.200s in %s: keys must be str, not %s",
                                 rs ? rs : "?", *p ? p : "(params)", Py_TYPE(k)->tp_name);
            Py_XDECREF(r);
            return -1;
        }
        Py_ssize_t klen;
        const char *ks = PyUnicode_AsUTF8AndSize(k, &klen);
        if (!ks)
            return -1;
        if (path_push(path, ks, (size_t)klen, 0, 0))
            return -1;
        /* keep k and v alive even if a __hash__/__eq__ mutates the dict */
        Py_INCREF(k);
        Py_INCREF(v);
        int rc = jsonw_check(smneo_jsonw_key(w, ks, (size_t)klen));
        if (!rc)
            rc = write_value(st, w, v, path, depth + 1);
        Py_DECREF(k);
        Py_DECREF(v);
        if (rc)
            return -1;
        path->len = saved;
        if (path->data)
            path->data[saved] = '\0';
    }
    return jsonw_check(smneo_jsonw_end_object(w));
}

static int write_seq(smneo_state *st, smneo_jsonw *w, PyObject *obj, path_buf *path, int depth)
{
    if (jsonw_check(smneo_jsonw_begin_array(w)))
        return -1;
    size_t saved = path->len;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(obj); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(obj, i);
        if (path_push(path, NULL, 0, 1, i))
            return -1;
        Py_INCREF(item);
        int rc = write_value(st, w, item, path, depth + 1);
        Py_DECREF(item);
        if (rc)
            return -1;
        path->len = saved;
        if (path->data)
            path->data[saved] = '\0';
    }
    return jsonw_check(smneo_jsonw_end_array(w));
}

static int write_value(smneo_state *st, smneo_jsonw *w, PyObject *obj, path_buf *path, int depth)
{
    if (depth > 64) {
        const char *p = path_str(path);
        smneo_py_param_error(st, p, "type", "Parameter %s is nested too deeply (more than 64 levels)",
                             *p ? p : "(params)");
        return -1;
    }
    if (PyUnicode_Check(obj)) {
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(obj, &n);
        if (!s) {
            if (PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) {
                PyErr_Clear();
                const char *p = path_str(path);
                smneo_py_param_error(st, p, "type", "Parameter %s is not valid Unicode (lone surrogates)",
                                     *p ? p : "(params)");
            }
            return -1;
        }
        return jsonw_check(smneo_jsonw_string(w, s, (size_t)n));
    }
    if (obj == Py_None)
        return jsonw_check(smneo_jsonw_null(w));
    if (PyBool_Check(obj))
        return jsonw_check(smneo_jsonw_bool(w, obj == Py_True));
    if (PyLong_Check(obj)) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(obj, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (overflow) {
            const char *p = path_str(path);
            smneo_py_param_error(st, p, "type", "Parameter %s is out of the 64-bit integer range",
                                 *p ? p : "(params)");
            return -1;
        }
        return jsonw_check(smneo_jsonw_int(w, (int64_t)v));
    }
    if (PyFloat_Check(obj)) {
        double d = PyFloat_AS_DOUBLE(obj);
        if (!isfinite(d)) {
            const char *p = path_str(path);
            smneo_py_param_error(st, p, "type", "Parameter %s must be a finite number, not %s",
                                 *p ? p : "(params)", isnan(d) ? "NaN" : "infinity");
            return -1;
        }
        return jsonw_check(smneo_jsonw_double(w, d));
    }
    if (PyDict_Check(obj)) {
        if (Py_EnterRecursiveCall(" while converting parameters"))
            return -1;
        int rc = write_dict(st, w, obj, path, depth);
        Py_LeaveRecursiveCall();
        return rc;
    }
    if (PyList_Check(obj) || PyTuple_Check(obj)) {
        if (Py_EnterRecursiveCall(" while converting parameters"))
            return -1;
        PyObject *fast = PySequence_Fast(obj, "list expected"); /* a stable snapshot for lists */
        int rc = fast ? write_seq(st, w, fast, path, depth) : -1;
        Py_XDECREF(fast);
        Py_LeaveRecursiveCall();
        return rc;
    }
    if (PyDateTime_Check(obj)) {
        double epoch;
        if (smneo_py_epoch(obj, &epoch))
            return -1;
        if (epoch == floor(epoch) && fabs(epoch) < 9e15)
            return jsonw_check(smneo_jsonw_int(w, (int64_t)epoch));
        return jsonw_check(smneo_jsonw_double(w, epoch));
    }
    return type_error(st, obj, path,
                      "<class 'str'>, <class 'int'>, <class 'float'>, <class 'bool'>, <class 'dict'>, "
                      "<class 'list'>, <class 'datetime.datetime'>");
}

int smneo_py_to_json(smneo_state *st, smneo_jsonw *w, PyObject *obj)
{
    path_buf path = {NULL, 0, 0};
    int rc = write_value(st, w, obj, &path, 0);
    PyMem_Free(path.data);
    return rc;
}

int smneo_py_params(smneo_state *st, PyObject *params, smneo_jsonw **out)
{
    *out = NULL;
    if (params && params != Py_None && !PyDict_Check(params)) {
        smneo_py_param_error(st, "", "type", "Parameters must be a dict, not %s", Py_TYPE(params)->tp_name);
        return -1;
    }
    smneo_jsonw *w = NULL;
    if (smneo_jsonw_new(&w)) {
        PyErr_NoMemory();
        return -1;
    }
    int rc;
    if (!params || params == Py_None) {
        rc = jsonw_check(smneo_jsonw_begin_object(w));
        if (!rc)
            rc = jsonw_check(smneo_jsonw_end_object(w));
    } else {
        rc = smneo_py_to_json(st, w, params);
    }
    if (rc) {
        smneo_jsonw_free(w);
        return -1;
    }
    *out = w;
    return 0;
}

/* ---- core value -> Python --------------------------------------------------- */

typedef struct frame {
    PyObject *container; /* borrowed from its parent (or the root) */
    int is_structure;    /* members with null values are left out, as botocore does */
} frame;

/* Results nested deeper than this are refused with ResponseParserError (the
 * model's shapes are a few levels deep; cJSON alone would allow 1000). The
 * Lua binding (lua/smneo.c RESULT_MAX_DEPTH) uses the same limit. */
#define RESULT_MAX_DEPTH 80

/* Equal short strings and equal timestamps of one walk share one object
 * (str and datetime are immutable): a page of 100 job summaries holds a
 * handful of distinct status and target values, and a job's end and
 * last-modified times are often the same instant. Caches of the walk only,
 * emptied when it ends. */
#define SHARED_STR_MAX 32   /* longer strings are made each time */
#define SHARED_STR_SLOTS 64 /* a power of two */
#define SHARED_TIMES 4      /* the last timestamps made */

typedef struct builder {
    smneo_state *st;
    frame stack[RESULT_MAX_DEPTH];
    int depth;
    PyObject *root;
    PyObject *key;                       /* pending member name (owned) */
    PyObject *strs[SHARED_STR_SLOTS];    /* owned; ASCII only */
    struct {
        double epoch;
        PyObject *dt; /* owned */
    } times[SHARED_TIMES];
    unsigned next_time;
    int zone_checked; /* local_zone checked st->tzlocal against time.tzset() in this walk */
    PyObject *root_type; /* the top-level object's type (borrowed), NULL: dict */
} builder;

static void builder_clear_shared(builder *b)
{
    for (size_t i = 0; i < SHARED_STR_SLOTS; i++)
        Py_CLEAR(b->strs[i]);
    for (size_t i = 0; i < SHARED_TIMES; i++)
        Py_CLEAR(b->times[i].dt);
}

/* Attaches a new value (steals `v`) to the current container. */
static int attach(builder *b, PyObject *v)
{
    if (!v)
        return -1;
    if (b->depth == 0) {
        if (b->root) { /* a second top-level value: not possible from the core */
            Py_DECREF(v);
            PyErr_SetString(PyExc_RuntimeError, "smneo: malformed value walk");
            return -1;
        }
        b->root = v;
        return 0;
    }
    frame *f = &b->stack[b->depth - 1];
    int rc;
    if (PyList_CheckExact(f->container)) {
        rc = PyList_Append(f->container, v);
    } else {
        if (!b->key) {
            Py_DECREF(v);
            PyErr_SetString(PyExc_RuntimeError, "smneo: value without a key in an object");
            return -1;
        }
        rc = PyDict_SetItem(f->container, b->key, v);
        Py_CLEAR(b->key);
    }
    Py_DECREF(v);
    return rc;
}

static int push(builder *b, PyObject *container, int is_structure)
{
    if (!container)
        return -1;
    if (b->depth >= (int)(sizeof b->stack / sizeof b->stack[0])) {
        Py_DECREF(container);
        if (smneo_py_errors_ready(b->st))
            return -1;
        PyErr_Format(b->st->ResponseParserError,
                     "malformed response: nested deeper than %d levels (smneo's limit for results)",
                     RESULT_MAX_DEPTH);
        return -1;
    }
    Py_INCREF(container); /* keep a borrowed pointer valid: attach() gives it to the parent */
    if (attach(b, container)) {
        Py_DECREF(container);
        return -1;
    }
    b->stack[b->depth].container = container;
    b->stack[b->depth].is_structure = is_structure;
    b->depth++;
    Py_DECREF(container); /* now owned by the parent or the root */
    return 0;
}

static int v_begin_object(void *payload, const smneo_shape *shape, size_t count)
{
    builder *b = payload;
    PyObject *d;
    if (b->depth == 0 && !b->root && b->root_type)
        d = PyObject_CallObject(b->root_type, NULL);
#if PY_VERSION_HEX < 0x030D0000 /* private from 3.13 */
    else if (count > 5) /* room for its members at once, not grown twice on the way */
        d = _PyDict_NewPresized((Py_ssize_t)count);
#endif
    else
        d = PyDict_New();
    return push(b, d, !shape || shape->type == SMNEO_SHAPE_STRUCTURE);
}

static int v_begin_array(void *payload, const smneo_shape *shape, size_t count)
{
    builder *b = payload;
    return push(b, PyList_New(0), 0);
}

static int v_end(void *payload)
{
    builder *b = payload;
    if (b->depth <= 0) {
        PyErr_SetString(PyExc_RuntimeError, "smneo: unbalanced value walk");
        return -1;
    }
    b->depth--;
    return 0;
}

/* The slot pair of a name: a hash of its length and of its first and last
 * eight bytes (member and header names differ there), two ways each so that
 * two names of one pair both stay (InputConfig and DataInputConfig did not,
 * with one way and FNV-1a). */
static size_t name_slot(const char *key, size_t len)
{
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        memcpy(&a, key, 8);
        memcpy(&b, key + len - 8, 8);
    } else {
        for (size_t i = 0; i < len; i++)
            a = (a << 8) | (unsigned char)key[i];
    }
    uint64_t h = (a * UINT64_C(0x9E3779B97F4A7C15)) ^ (b * UINT64_C(0xC2B2AE3D27D4EB4F)) ^ (uint64_t)len;
    h ^= h >> 31;
    h *= UINT64_C(0xD6E8FEB86659FD93);
    h ^= h >> 32;
    return (size_t)h & (SMNEO_PY_KEY_CACHE - 2); /* even: the first of the pair */
}

static int name_is(PyObject *o, const char *key, size_t len)
{
    return o && (size_t)PyUnicode_GET_LENGTH(o) == len && !memcmp(PyUnicode_DATA(o), key, len);
}

PyObject *smneo_py_cached_name(smneo_state *st, const char *key, size_t len)
{
    if (len > 64)
        return NULL;
    PyObject **pair = &st->key_cache[name_slot(key, len)];
    /* only ASCII names are cached (one byte a character): a match is ASCII */
    for (int i = 0; i < 2; i++) {
        if (name_is(pair[i], key, len)) {
            Py_INCREF(pair[i]);
            return pair[i];
        }
    }
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)key[i] >= 0x80)
            return NULL;
    PyObject *o = PyUnicode_FromStringAndSize(key, (Py_ssize_t)len); /* ASCII: compact, 1 byte a character */
    if (!o)
        return NULL;
    PyUnicode_InternInPlace(&o);
    /* the newest in the first way, the one it displaces in the second */
    Py_INCREF(o);
    Py_XSETREF(pair[1], pair[0]);
    pair[0] = o;
    return o;
}

/* A member name as an interned str (cached when ASCII). New reference. */
static PyObject *key_object(smneo_state *st, const char *key, size_t len)
{
    PyObject *k = smneo_py_cached_name(st, key, len);
    if (k || PyErr_Occurred())
        return k;
    k = PyUnicode_DecodeUTF8(key, (Py_ssize_t)len, "surrogateescape");
    if (k)
        PyUnicode_InternInPlace(&k);
    return k;
}

static int v_key(void *payload, const char *key, size_t len)
{
    builder *b = payload;
    Py_CLEAR(b->key);
    b->key = key_object(b->st, key, len);
    return b->key ? 0 : -1;
}

/* A str of ASCII bytes (known to be ASCII): compact, one byte a character,
 * copied without the UTF-8 decoder's dispatch. */
static PyObject *ascii_str(const char *s, size_t len)
{
    PyObject *o = PyUnicode_New((Py_ssize_t)len, 127);
    if (o)
        memcpy(PyUnicode_DATA(o), s, len);
    return o;
}

/* A str of JSON string bytes: ASCII copied, anything else decoded as UTF-8
 * (surrogateescape, as before). */
static PyObject *text_str(const char *s, size_t len)
{
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        if (w & UINT64_C(0x8080808080808080))
            return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "surrogateescape");
    }
    for (; i < len; i++)
        if ((unsigned char)s[i] >= 0x80)
            return PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "surrogateescape");
    return ascii_str(s, len);
}

static int v_string(void *payload, const char *s, size_t len)
{
    builder *b = payload;
    if (len > SHARED_STR_MAX)
        return attach(b, text_str(s, len));
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        if ((unsigned char)s[i] >= 0x80)
            return attach(b, PyUnicode_DecodeUTF8(s, (Py_ssize_t)len, "surrogateescape"));
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    }
    PyObject **slot = &b->strs[h & (SHARED_STR_SLOTS - 1)];
    PyObject *o = *slot;
    if (!o || (size_t)PyUnicode_GET_LENGTH(o) != len || memcmp(PyUnicode_DATA(o), s, len)) {
        o = ascii_str(s, len);
        if (!o)
            return -1;
        Py_XSETREF(*slot, o);
    }
    Py_INCREF(o);
    return attach(b, o);
}

static int v_integer(void *payload, int64_t v)
{
    return attach(payload, PyLong_FromLongLong((long long)v));
}

static int v_number(void *payload, double v)
{
    return attach(payload, PyFloat_FromDouble(v));
}

static int v_boolean(void *payload, int v)
{
    return attach(payload, PyBool_FromLong(v));
}

/* The offset (seconds east of UTC) and DST flag in effect at t: 0 when the
 * C library cannot say. */
static int probe_zone(time_t t, long *gmtoff, int *isdst)
{
    struct tm tm;
    if (!localtime_r(&t, &tm))
        return 0;
    *gmtoff = (long)tm.tm_gmtoff;
    *isdst = tm.tm_isdst > 0;
    return 1;
}

static int time_attr_long(long *out, PyObject *time_module, const char *name)
{
    PyObject *v = PyObject_GetAttrString(time_module, name);
    *out = v ? PyLong_AsLong(v) : -1;
    Py_XDECREF(v);
    return PyErr_Occurred() ? -1 : 0;
}

/* The TZ variable as the zone signature keeps it: "" when unset, "\1" (equal
 * to no variable's text) when longer than the buffer. */
static void tz_env_text(char out[128])
{
    const char *e = getenv("TZ");
    if (!e)
        out[0] = '\0';
    else if (strlen(e) < 128)
        memcpy(out, e, strlen(e) + 1);
    else
        memcpy(out, "\1", 2);
}

/* (Re)makes st->tzlocal as botocore's parser makes its zone for every
 * timestamp: dateutil's tzlocal() where dateutil is importable (wherever
 * botocore is), else smneo._tz.tzlocal(); with the standard and DST offsets
 * that zone takes from the time module (time.timezone, time.altzone,
 * time.daylight), remade when time.tzset() changed the zone (its offsets,
 * names or the TZ variable); the span of known offsets is then forgotten. */
static int ensure_tzlocal(smneo_state *st)
{
    char env[128];
    tz_env_text(env);
    if (st->tzlocal && st->tz_c_timezone == timezone && st->tz_c_daylight == daylight &&
        !strcmp(st->tz_c_names[0], tzname[0] ? tzname[0] : "") &&
        !strcmp(st->tz_c_names[1], tzname[1] ? tzname[1] : "") && !strcmp(st->tz_env, env))
        return 0;
    st->tz_span.valid = 0;
    PyObject *m = PyImport_ImportModule("dateutil.tz");
    if (!m && PyErr_ExceptionMatches(PyExc_ImportError)) {
        PyErr_Clear();
        m = PyImport_ImportModule("smneo._tz");
    }
    PyObject *tz = m ? PyObject_CallMethod(m, "tzlocal", NULL) : NULL;
    Py_XDECREF(m);
    PyObject *time_module = tz ? PyImport_ImportModule("time") : NULL;
    long tzone = 0, alt = 0, dl = 0;
    int rc = time_module && !time_attr_long(&tzone, time_module, "timezone") &&
                     !time_attr_long(&alt, time_module, "altzone") && !time_attr_long(&dl, time_module, "daylight")
                 ? 0
                 : -1;
    Py_XDECREF(time_module);
    if (rc) {
        Py_XDECREF(tz);
        return -1;
    }
    Py_XSETREF(st->tzlocal, tz);
    st->tz_std = -tzone;
    st->tz_dst = dl ? -alt : -tzone;
    st->tz_c_timezone = timezone;
    st->tz_c_daylight = daylight;
    snprintf(st->tz_c_names[0], sizeof st->tz_c_names[0], "%s", tzname[0] ? tzname[0] : "");
    snprintf(st->tz_c_names[1], sizeof st->tz_c_names[1], "%s", tzname[1] ? tzname[1] : "");
    memcpy(st->tz_env, env, sizeof env);
    return 0;
}

/* Makes st->tz_span cover [t - 1 day, t] when one offset holds there: 1
 * when it does (the span's offset is t's), 0 when the offset changed in
 * that day or the C library knows no local time (*known then says whether
 * t's offset and flag were learnt: *gmtoff, *isdst). Probes are at most a
 * day apart and a span only grows by probing its new end, so an instant in
 * the span has the span's offset as long as no zone changes its offset
 * twice within a day (the shortest gap in the tz database is four days;
 * the fast path below relied on a day already). */
static int span_cover(smneo_state *st, time_t t, long *gmtoff, int *isdst, int *known)
{
    time_t a = t - 86400;
    long g;
    int d;
    *known = 0;
    if (st->tz_span.valid) {
        long long lo = st->tz_span.lo, hi = st->tz_span.hi;
        if (a >= lo && t <= hi)
            return 1;
        /* a span is at least a day long: one new end to probe, within a day of the old one */
        time_t end = t > hi ? t : a;
        if ((t > hi && a <= hi) || (a < lo && t >= lo)) {
            if (!probe_zone(end, &g, &d)) {
                st->tz_span.valid = 0;
                if (end == t)
                    return 0;
                if (!probe_zone(t, gmtoff, isdst))
                    return 0;
                *known = 1;
                return 0;
            }
            if (g == st->tz_span.gmtoff && d == st->tz_span.isdst) {
                if (end == t)
                    st->tz_span.hi = t;
                else
                    st->tz_span.lo = a;
                return 1;
            }
            /* changed within the day: t's offset is the new end's (t) or the span's (a was the new end) */
            *gmtoff = end == t ? g : st->tz_span.gmtoff;
            *isdst = end == t ? d : st->tz_span.isdst;
            *known = 1;
            st->tz_span.valid = 0;
            return 0;
        }
    }
    st->tz_span.valid = 0;
    if (!probe_zone(t, gmtoff, isdst))
        return 0;
    *known = 1;
    if (!probe_zone(a, &g, &d) || g != *gmtoff || d != *isdst)
        return 0;
    st->tz_span.valid = 1;
    st->tz_span.gmtoff = g;
    st->tz_span.isdst = d;
    st->tz_span.lo = a;
    st->tz_span.hi = t;
    return 1;
}

/* The zone for a timestamp (borrowed: st->tzlocal, or st->utc when the C
 * library knows no local time for epoch), and *fast set when the datetime
 * can be made from fields here: the offset at that instant is the zone's
 * standard or DST offset and no change happened in the day before (so no
 * wall-clock time repeats); otherwise the zone's own fromutc decides.
 * `checked`: the zone was checked against time.tzset() in this walk. */
static int local_zone(PyObject **out, smneo_state *st, double epoch, long *gmtoff, int *fast, int *checked)
{
    time_t t = (time_t)floor(epoch);
    *gmtoff = 0;
    *fast = 1;
    *out = st->utc;
    if (!*checked && st->tz_span.valid) { /* a time.tzset() since forgets the span */
        if (ensure_tzlocal(st))
            return -1;
        *checked = 1;
    }
    int isdst = 0, known;
    int steady = span_cover(st, t, gmtoff, &isdst, &known);
    if (steady) {
        *gmtoff = st->tz_span.gmtoff;
        isdst = st->tz_span.isdst;
    } else if (!known) {
        return 0;
    }
    if (!*checked) {
        int was = st->tz_span.valid;
        if (ensure_tzlocal(st))
            return -1;
        st->tz_span.valid = was; /* the span was learnt under this zone */
        *checked = 1;
    }
    *out = st->tzlocal;
    *fast = steady && *gmtoff == (isdst ? st->tz_dst : st->tz_std);
    return 0;
}

/* The civil date of a day count since 1970-01-01 (Howard Hinnant's algorithm). */
static void civil_from_days(long long z, int *y, int *m, int *d)
{
    z += 719468;
    long long era = (z >= 0 ? z : z - 146096) / 146097;
    long long doe = z - era * 146097;
    long long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    long long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    long long mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* datetime.fromtimestamp(epoch, tz) made from its fields: the same rounding
 * of the fraction (half to even, to microseconds) and the same fields (UTC
 * plus the offset at that instant), without the Python-level call.
 * 1 when done (*out set, NULL on error), 0 when out of the range it covers. */
static int fast_datetime(PyObject **out, double epoch, long gmtoff, PyObject *tz)
{
    if (!isfinite(epoch) || fabs(epoch) > 253402300800.0) /* beyond year 9999: the slow path says why */
        return 0;
    double ip, fp = modf(epoch, &ip) * 1e6;
    double r = round(fp);
    if (fabs(fp - r) == 0.5)
        r = 2.0 * round(fp / 2.0);
    if (r >= 1e6) {
        r -= 1e6;
        ip += 1.0;
    } else if (r < 0) {
        r += 1e6;
        ip -= 1.0;
    }
    long long t = (long long)ip + gmtoff;
    long long days = (t >= 0 ? t : t - 86399) / 86400, secs = t - days * 86400;
    int y, mo, d;
    civil_from_days(days, &y, &mo, &d);
    if (y < 1 || y > 9999)
        return 0;
    *out = PyDateTimeAPI->DateTime_FromDateAndTime(y, mo, d, (int)(secs / 3600), (int)(secs / 60 % 60),
                                                   (int)(secs % 60), (int)r, tz, PyDateTimeAPI->DateTimeType);
    return 1;
}

static PyObject *make_datetime(builder *b, double epoch)
{
    long gmtoff;
    int fast;
    PyObject *tz, *dt;
    if (local_zone(&tz, b->st, epoch, &gmtoff, &fast, &b->zone_checked))
        return NULL;
    if (fast && fast_datetime(&dt, epoch, gmtoff, tz))
        return dt;
    PyObject *args = Py_BuildValue("(dO)", epoch, tz);
    if (!args)
        return NULL;
    dt = PyDateTimeAPI->DateTime_FromTimestamp((PyObject *)PyDateTimeAPI->DateTimeType, args, NULL);
    Py_DECREF(args);
    return dt;
}

/* The zone cannot change during a walk (ensure_tzlocal follows time.tzset()
 * between calls), so an instant seen in this walk gives the same datetime. */
static int v_timestamp(void *payload, double epoch)
{
    builder *b = payload;
    for (size_t i = 0; i < SHARED_TIMES; i++)
        if (b->times[i].dt && memcmp(&b->times[i].epoch, &epoch, sizeof epoch) == 0) {
            Py_INCREF(b->times[i].dt);
            return attach(b, b->times[i].dt);
        }
    PyObject *dt = make_datetime(b, epoch);
    if (!dt)
        return -1;
    size_t i = b->next_time++ % SHARED_TIMES;
    b->times[i].epoch = epoch;
    Py_INCREF(dt);
    Py_XSETREF(b->times[i].dt, dt);
    return attach(b, dt);
}

static int v_null(void *payload)
{
    builder *b = payload;
    if (b->depth > 0 && b->stack[b->depth - 1].is_structure && b->key) {
        Py_CLEAR(b->key); /* botocore leaves members with null values out */
        return 0;
    }
    Py_INCREF(Py_None);
    return attach(b, Py_None);
}

static const smneo_visitor VISITOR = {v_begin_object, v_end, v_begin_array, v_end, v_key, v_string,
                                      v_integer, v_number, v_boolean, v_timestamp, v_null};

/* Builds Python objects from one walk (a value or a service error's modeled
 * members). NULL with an exception set on failure; None when nothing was
 * walked (SMNEO_EABSENT counts as nothing). */
static PyObject *build(smneo_state *st, const smneo_value *v, const smneo_error *err, PyObject *root_type)
{
    builder b;
    b.st = st;
    b.root_type = root_type;
    b.depth = 0;
    b.root = NULL;
    b.key = NULL;
    memset(b.strs, 0, sizeof b.strs);
    memset(b.times, 0, sizeof b.times);
    b.next_time = 0;
    b.zone_checked = 0;
    int rc = v ? smneo_value_walk(v, &VISITOR, &b) : smneo_error_walk(err, &VISITOR, &b);
    Py_CLEAR(b.key);
    builder_clear_shared(&b);
    if (rc == SMNEO_EABSENT && !b.root && !PyErr_Occurred())
        rc = 0;
    if (rc || PyErr_Occurred()) {
        Py_CLEAR(b.root);
        if (!PyErr_Occurred()) {
            if (rc == SMNEO_ENOMEM)
                PyErr_NoMemory();
            else
                PyErr_Format(PyExc_RuntimeError, "smneo: could not walk the result (%s)", smneo_strerror(rc));
        }
        return NULL;
    }
    if (!b.root)
        Py_RETURN_NONE;
    return b.root;
}

PyObject *smneo_py_value(smneo_state *st, const smneo_value *v)
{
    return build(st, v, NULL, NULL);
}

PyObject *smneo_py_error_fields(smneo_state *st, const smneo_error *err)
{
    return build(st, NULL, err, NULL);
}

PyObject *smneo_py_metadata(smneo_state *st, const smneo_response *resp, const char *request_id, int status,
                            int attempts, int max_attempts_reached)
{
    PyObject *md = PyDict_New();
    if (!md)
        return NULL;
    if (!request_id && resp)
        request_id = smneo_response_header(resp, "x-amzn-RequestId");
    PyObject *v;
    if (request_id) {
        v = PyUnicode_DecodeUTF8(request_id, (Py_ssize_t)strlen(request_id), "surrogateescape");
        if (!v || PyDict_SetItem(md, st->s_RequestId, v))
            goto fail;
        Py_DECREF(v);
    }
    v = PyLong_FromLong(status ? status : (resp ? resp->status : 0));
    if (!v || PyDict_SetItem(md, st->s_HTTPStatusCode, v))
        goto fail;
    Py_DECREF(v);
    v = resp ? smneo_py_headers(st, resp) : PyDict_New();
    if (!v || PyDict_SetItem(md, st->s_HTTPHeaders, v))
        goto fail;
    Py_DECREF(v);
    if (max_attempts_reached && PyDict_SetItem(md, st->s_MaxAttemptsReached, Py_True))
        goto fail_novalue;
    v = PyLong_FromLong(attempts > 1 ? attempts - 1 : 0);
    if (!v || PyDict_SetItem(md, st->s_RetryAttempts, v))
        goto fail;
    Py_DECREF(v);
    return md;
fail:
    Py_XDECREF(v);
fail_novalue:
    Py_DECREF(md);
    return NULL;
}

PyObject *smneo_py_result(smneo_state *st, const smneo_result *r)
{
    return smneo_py_result_as(st, r, NULL);
}

PyObject *smneo_py_result_as(smneo_state *st, const smneo_result *r, PyObject *type)
{
    smneo_value root;
    smneo_result_root(&root, r);
    PyObject *d = build(st, &root, NULL, type);
    if (!d)
        return NULL;
    if (d == Py_None) {
        Py_DECREF(d);
        d = type ? PyObject_CallObject(type, NULL) : PyDict_New();
        if (!d)
            return NULL;
    }
    if (!PyDict_Check(d)) {
        Py_DECREF(d);
        PyErr_SetString(PyExc_RuntimeError, "smneo: the result is not an object");
        return NULL;
    }
    PyObject *md = smneo_py_metadata(st, smneo_result_response(r), smneo_result_request_id(r),
                                     smneo_result_status(r), smneo_result_attempts(r), 0);
    if (!md || PyDict_SetItem(d, st->s_ResponseMetadata, md)) {
        Py_XDECREF(md);
        Py_DECREF(d);
        return NULL;
    }
    Py_DECREF(md);
    return d;
}

/* A job log event for Python (smneo.Client.get_compilation_job_logs, compile). */
PyObject *smneo_py_log_event(smneo_state *st, const smneo_log_event *ev)
{
    PyObject *args = Py_BuildValue("(dO)", (double)ev->timestamp / 1000.0, st->utc);
    if (!args)
        return NULL;
    PyObject *dt = PyDateTimeAPI->DateTime_FromTimestamp((PyObject *)PyDateTimeAPI->DateTimeType, args, NULL);
    Py_DECREF(args);
    if (!dt)
        return NULL;
    PyObject *msg = PyUnicode_DecodeUTF8(ev->message, (Py_ssize_t)ev->message_len, "replace");
    if (!msg) {
        Py_DECREF(dt);
        return NULL;
    }
    return Py_BuildValue("{s:N,s:N}", "timestamp", dt, "message", msg);
}
