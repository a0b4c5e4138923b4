/* Compatibility with older CPython (3.8 to 3.10) for the extension.
 *
 * The binding is written against the current C API (multi-phase init, heap
 * types bound to their module, PyType_GetModuleByDef). This header supplies
 * what older versions lack, under the same names, so the rest of the code has
 * no version checks. tools/test-python-versions.sh builds and tests the
 * extension with every CPython from 3.8 to 3.13 found on the machine. */
#ifndef SMNEO_PY_COMPAT_H
#define SMNEO_PY_COMPAT_H

#include <string.h>

#if PY_VERSION_HEX < 0x03080000
#error "smneo needs CPython 3.8 or later"
#endif

/* 3.9: PyObject_CallOneArg, PyModule_AddType; PyMODINIT_FUNC exports the init
 * function even under -fvisibility=hidden */
#if PY_VERSION_HEX < 0x03090000
#if defined(__GNUC__)
#undef PyMODINIT_FUNC
#define PyMODINIT_FUNC __attribute__((visibility("default"))) PyObject *
#endif

static inline PyObject *smneo_compat_call_one_arg(PyObject *callable, PyObject *arg)
{
    return PyObject_CallFunctionObjArgs(callable, arg, NULL);
}
#define PyObject_CallOneArg smneo_compat_call_one_arg

static inline int smneo_compat_add_type(PyObject *module, PyTypeObject *type)
{
    const char *dot = strrchr(type->tp_name, '.');
    Py_INCREF(type);
    if (PyModule_AddObject(module, dot ? dot + 1 : type->tp_name, (PyObject *)type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}
#define PyModule_AddType smneo_compat_add_type
#endif

/* 3.10: PyModule_AddObjectRef; the IMMUTABLETYPE and DISALLOW_INSTANTIATION
 * type flags (same bits as 3.10; PyType_FromModuleAndSpec below takes them
 * out of the spec and applies DISALLOW_INSTANTIATION itself). */
#if PY_VERSION_HEX < 0x030A0000
static inline int smneo_compat_add_object_ref(PyObject *module, const char *name, PyObject *value)
{
    Py_XINCREF(value);
    if (PyModule_AddObject(module, name, value) < 0) {
        Py_XDECREF(value);
        return -1;
    }
    return 0;
}
#define PyModule_AddObjectRef smneo_compat_add_object_ref

/* for datetime.h users (_convert.c) */
#define PyDateTime_DATE_GET_TZINFO(o)                                                                          \
    (((PyDateTime_DateTime *)(o))->hastzinfo ? ((PyDateTime_DateTime *)(o))->tzinfo : Py_None)

#define Py_TPFLAGS_DISALLOW_INSTANTIATION (1UL << 7)
#define Py_TPFLAGS_IMMUTABLETYPE (1UL << 8)

/* 3.8 has no ht_module: the type keeps its module in its dict under this key. */
#define SMNEO_COMPAT_MODULE_KEY "__smneo_module__"

static inline PyObject *smneo_compat_type_from_spec(PyObject *module, PyType_Spec *spec, PyObject *bases)
{
    PyType_Spec copy = *spec;
    copy.flags &= ~(Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE);
    /* before 3.10, bases must be a tuple */
    PyObject *tuple = bases && !PyTuple_Check(bases) ? PyTuple_Pack(1, bases) : NULL;
    if (bases && !PyTuple_Check(bases) && !tuple)
        return NULL;
#if PY_VERSION_HEX >= 0x03090000
    PyObject *type = PyType_FromModuleAndSpec(module, &copy, tuple ? tuple : bases);
    Py_XDECREF(tuple);
#else
    PyObject *type = PyType_FromSpecWithBases(&copy, tuple ? tuple : bases);
    Py_XDECREF(tuple);
    if (type && PyDict_SetItemString(((PyTypeObject *)type)->tp_dict, SMNEO_COMPAT_MODULE_KEY, module)) {
        Py_DECREF(type);
        return NULL;
    }
#endif
    if (type && (spec->flags & Py_TPFLAGS_DISALLOW_INSTANTIATION)) {
        ((PyTypeObject *)type)->tp_new = NULL; /* what 3.10 does for the flag */
        PyType_Modified((PyTypeObject *)type);
    }
    return type;
}
#define PyType_FromModuleAndSpec smneo_compat_type_from_spec
#endif

/* 3.11: PyType_GetModuleByDef (a borrowed reference, as the real one). */
#if PY_VERSION_HEX < 0x030B0000
static inline PyObject *smneo_compat_get_module_by_def(PyTypeObject *type, PyModuleDef *def)
{
    PyObject *mro = type->tp_mro;
    for (Py_ssize_t i = 0; mro && i < PyTuple_GET_SIZE(mro); i++) {
        PyTypeObject *t = (PyTypeObject *)PyTuple_GET_ITEM(mro, i);
        if (!(t->tp_flags & Py_TPFLAGS_HEAPTYPE))
            continue;
#if PY_VERSION_HEX >= 0x03090000
        PyObject *m = ((PyHeapTypeObject *)t)->ht_module;
#else
        PyObject *m = PyDict_GetItemString(t->tp_dict, SMNEO_COMPAT_MODULE_KEY);
#endif
        if (m && PyModule_Check(m) && PyModule_GetDef(m) == def)
            return m;
    }
    PyErr_Format(PyExc_TypeError, "PyType_GetModuleByDef: no superclass of '%s' has the given module",
                 type->tp_name);
    return NULL;
}
#define PyType_GetModuleByDef smneo_compat_get_module_by_def
#endif

#endif
