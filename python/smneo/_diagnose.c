/* smneo._smneo._explain: the Python side of smneo_explain (smneo/diagnose.h).
 * Converts the description (a dict, a FailureReason string or None) and the
 * log (an iterable of str, bytes or events with a "message") for the core,
 * explains with the GIL released, and returns the diagnosis as a dict
 * (smneo.Diagnosis wraps it in python/smneo/diagnosis.py). */
#include "_smneo.h"

#include "smneo/diagnose.h"

/* UTF-8 bytes of a log line; *keep holds what owns them. */
static int line_bytes(PyObject *item, Py_ssize_t index, PyObject **keep, const char **s, Py_ssize_t *n)
{
    PyObject *msg = item;
    Py_INCREF(msg);
    if (PyDict_Check(item) || (!PyUnicode_Check(item) && !PyBytes_Check(item) && PyMapping_Check(item))) {
        Py_DECREF(msg);
        msg = PyMapping_GetItemString(item, "message");
        if (!msg) {
            if (PyErr_ExceptionMatches(PyExc_KeyError)) {
                PyErr_Clear();
                PyErr_Format(PyExc_TypeError, "logs[%zd]: an event needs a \"message\"", index);
            }
            return -1;
        }
    }
    if (PyBytes_Check(msg)) {
        *keep = msg;
        *s = PyBytes_AS_STRING(msg);
        *n = PyBytes_GET_SIZE(msg);
        return 0;
    }
    if (!PyUnicode_Check(msg)) {
        PyErr_Format(PyExc_TypeError, "logs[%zd] must be a str, bytes or an event with a \"message\", not %s", index,
                     Py_TYPE(msg)->tp_name);
        Py_DECREF(msg);
        return -1;
    }
    /* lone surrogates (text decoded with surrogateescape) go back to their bytes */
    PyObject *b = PyUnicode_AsEncodedString(msg, "utf-8", "surrogateescape");
    if (!b) {
        PyErr_Clear();
        b = PyUnicode_AsEncodedString(msg, "utf-8", "replace");
    }
    Py_DECREF(msg);
    if (!b)
        return -1;
    *keep = b;
    *s = PyBytes_AS_STRING(b);
    *n = PyBytes_GET_SIZE(b);
    return 0;
}

static int set_str(PyObject *d, const char *k, const char *v)
{
    PyObject *o;
    if (v) {
        o = PyUnicode_DecodeUTF8(v, (Py_ssize_t)strlen(v), "replace");
    } else {
        Py_INCREF(Py_None);
        o = Py_None;
    }
    int rc = o ? PyDict_SetItemString(d, k, o) : -1;
    Py_XDECREF(o);
    return rc;
}

static int set_obj(PyObject *d, const char *k, PyObject *o)
{
    int rc = o ? PyDict_SetItemString(d, k, o) : -1;
    Py_XDECREF(o);
    return rc;
}

PyObject *smneo_py_diagnosis(smneo_state *st, const smneo_diagnosis *d)
{
    PyObject *out = PyDict_New();
    if (!out)
        return NULL;
    char *text = NULL;
    if (smneo_diagnosis_format(&text, d) != 0) {
        Py_DECREF(out);
        return PyErr_NoMemory();
    }
    size_t line = smneo_diagnosis_evidence_line(d);
    int rc = set_str(out, "id", smneo_diagnosis_id(d)) ||
             set_obj(out, "matched", PyBool_FromLong(smneo_diagnosis_matched(d))) ||
             set_str(out, "category", smneo_failure_category_name(smneo_diagnosis_category(d))) ||
             set_str(out, "title", smneo_diagnosis_title(d)) || set_str(out, "cause", smneo_diagnosis_cause(d)) ||
             set_str(out, "fix", smneo_diagnosis_fix(d)) || set_str(out, "rule", smneo_diagnosis_rule(d)) ||
             set_str(out, "source", smneo_diagnosis_source(d)) ||
             set_str(out, "evidence", smneo_diagnosis_evidence(d)) ||
             set_str(out, "evidence_source", smneo_evidence_kind_name(smneo_diagnosis_evidence_kind(d))) ||
             set_obj(out, "evidence_line", line == (size_t)-1 ? (Py_INCREF(Py_None), Py_None) : PyLong_FromSize_t(line)) ||
             set_str(out, "job_name", smneo_diagnosis_job_name(d)) ||
             set_str(out, "status", smneo_diagnosis_status(d)) ||
             set_str(out, "failure_reason", smneo_diagnosis_failure_reason(d)) ||
             set_obj(out, "issues", smneo_py_issues(st, smneo_diagnosis_issues(d))) || set_str(out, "text", text);
    free(text);
    if (rc) {
        Py_DECREF(out);
        return NULL;
    }
    return out;
}

static PyObject *mod_explain(PyObject *module, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"description", "logs", NULL};
    PyObject *description = Py_None, *logs = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|OO:explain", kwlist, &description, &logs))
        return NULL;
    smneo_state *st = smneo_get_state(module);
    smneo_jsonw *w = NULL;
    if (PyUnicode_Check(description)) { /* a FailureReason */
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(description, &n);
        if (!s)
            return NULL;
        if (smneo_jsonw_new(&w) || smneo_jsonw_begin_object(w) || smneo_jsonw_key(w, "FailureReason", 13) ||
            smneo_jsonw_string(w, s, (size_t)n) || smneo_jsonw_end_object(w)) {
            smneo_jsonw_free(w);
            return PyErr_NoMemory();
        }
    } else if (PyDict_Check(description)) {
        if (smneo_py_params(st, description, &w))
            return NULL;
    } else if (description != Py_None) {
        return PyErr_Format(PyExc_TypeError,
                            "description must be the dict describe_compilation_job returns, a FailureReason str, or "
                            "None, not %s",
                            Py_TYPE(description)->tp_name);
    }

    PyObject *items = NULL;
    if (logs != Py_None) {
        if (PyUnicode_Check(logs) || PyBytes_Check(logs)) {
            smneo_jsonw_free(w);
            return PyErr_Format(PyExc_TypeError, "logs must be an iterable of lines (e.g. text.splitlines()), not "
                                                 "a single %s",
                                Py_TYPE(logs)->tp_name);
        }
        items = PySequence_Fast(logs, "logs must be an iterable of lines or log events");
        if (!items) {
            smneo_jsonw_free(w);
            return NULL;
        }
    }
    Py_ssize_t n = items ? PySequence_Fast_GET_SIZE(items) : 0;
    PyObject *keep = PyList_New(0);
    const char **lines = PyMem_Calloc((size_t)n + 1, sizeof *lines);
    size_t *lens = PyMem_Calloc((size_t)n + 1, sizeof *lens);
    PyObject *res = NULL;
    if (!keep || !lines || !lens) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *owner = NULL;
        Py_ssize_t len;
        if (line_bytes(PySequence_Fast_GET_ITEM(items, i), i, &owner, &lines[i], &len))
            goto done;
        int rc = PyList_Append(keep, owner);
        Py_DECREF(owner); /* the list keeps it */
        if (rc)
            goto done;
        lens[i] = (size_t)len;
    }
    size_t jlen = 0;
    const char *json = w ? smneo_jsonw_data(&jlen, w) : NULL;
    smneo_diagnosis *d = NULL;
    smneo_error err = SMNEO_ERROR_INIT;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = smneo_explain(&d, json, jlen, lines, lens, (size_t)n, &err);
    Py_END_ALLOW_THREADS
    if (rc)
        res = smneo_py_raise(st, rc, &err, NULL, 0);
    else
        res = smneo_py_diagnosis(st, d);
    smneo_diagnosis_free(d);
    smneo_error_clear(&err);
done:
    PyMem_Free(lines);
    PyMem_Free(lens);
    Py_XDECREF(keep);
    Py_XDECREF(items);
    smneo_jsonw_free(w);
    return res;
}

static PyMethodDef diagnose_functions[] = {
    {"_explain", (PyCFunction)(void (*)(void))mod_explain, METH_VARARGS | METH_KEYWORDS,
     "internal: see smneo.explain"},
    {NULL},
};

int smneo_py_diagnose_init(PyObject *module, smneo_state *st)
{
    (void)st;
    return PyModule_AddFunctions(module, diagnose_functions);
}
