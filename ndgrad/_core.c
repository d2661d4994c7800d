/*
 * ndgrad._core: the compiled hot path of the engine.
 *
 * What lives here, and nowhere else:
 *
 * - ``Node``, one recorded operation (the type; what its fields mean is documented in
 *   ndgrad/_graph.py, which re-exports it);
 * - ``collect_nodes``, the dependency count of a graph;
 * - ``store``, adding a cotangent to what a node's output has received so far;
 * - ``run_backward``, the loop of the backward pass: it visits each node once in Kahn's order,
 *   runs the rules of the common node itself and hands every other case (a leaf's
 *   accumulation, version checks, a node with several outputs, ``where=``, a rule per set of
 *   arguments, create_graph) to the Python functions ndgrad/_graph.py registers with
 *   ``configure``. Each of those cases is therefore defined once, in Python.
 *
 * Everything cold (rules, tables, error messages, transforms) stays Python.
 *
 * Conventions (PEP 7; CPython's own style): every function says what it owns and what it
 * borrows; "new" means the caller receives a new reference, "borrowed" that it does not.
 * Every error path releases what it took. Nodes are tracked by the cyclic garbage collector
 * (a user's closure in a node's keyword arguments may point back at the graph) and are freed
 * through the trashcan, so dropping a graph of a million nodes does not recurse a million
 * levels in C.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#define NPY_NO_DEPRECATED_API NPY_2_0_API_VERSION
#include <numpy/arrayobject.h>

/* ------------------------------------------------------------------------------------------ */
/* Module state: what ndgrad/_graph.py registers once with configure(). All owned.            */

static PyObject *LeafNodeType;    /* ndgrad._graph.LeafNode */
static PyObject *NoKwargs;        /* ndgrad._graph.NO_KWARGS, the shared empty dict */
static PyObject *AccumulateLeaf;  /* _accumulate_leaf(node, g, stealable) */
static PyObject *CheckLive;       /* _check_live(node): raises for a freed node */
static PyObject *CheckVersions;   /* _check_versions(node) */
static PyObject *Cotangents;      /* _cotangents(node, g, lift): (edge, cotangent) pairs */
static PyObject *Fit;             /* _fit(c, edge, prim) */
static PyObject *Take;            /* _take(grads, owned, node) for a node with several outputs */
static PyObject *EmptyTuple;      /* () */
static PyObject *str_rules, *str_argnum_rule, *str_edges;

/* The fields of an Edge (ndgrad._graph.Edge, a named tuple). */
enum { EDGE_SLOT, EDGE_FLAT, EDGE_PARENT, EDGE_OUT, EDGE_SHAPE, EDGE_DTYPE, EDGE_LEN };

/* ------------------------------------------------------------------------------------------ */
/* Node                                                                                       */

typedef struct {
    PyObject_HEAD
    PyObject *prim;      /* the Primitive */
    PyObject *edges;     /* tuple of Edge */
    PyObject *args;      /* tuple: what the rules read, plain arrays */
    PyObject *kwargs;    /* dict, NO_KWARGS when empty */
    PyObject *ans;       /* the saved output(s), or None */
    PyObject *versions;  /* flat tuple: counter, seen, what, hold per saved array */
    PyObject *out_meta;  /* None (one output) or ((shape, dtype), ...) */
    PyObject *where;     /* the where= mask, or None */
    Py_ssize_t n_out;
    char freed;
    PyObject *weakreflist;
} NodeObject;

static PyTypeObject NodeType;

#define Node_Check(op) (Py_TYPE(op) == &NodeType)

/* The number of outputs of a graph node (a Node, or a LeafNode with one). */
static inline Py_ssize_t
n_out_of(PyObject *node)
{
    return Node_Check(node) ? ((NodeObject *)node)->n_out : 1;
}

/* Node(prim, edges, args, kwargs, ans, versions, out_meta, where=None): new reference. */
static PyObject *
Node_vectorcall(PyObject *type, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *where = Py_None;

    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0) {
        if (PyTuple_GET_SIZE(kwnames) != 1 || nargs != 7
            || PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "where") != 0) {
            PyErr_SetString(PyExc_TypeError,
                            "Node() takes prim, edges, args, kwargs, ans, versions, out_meta "
                            "and an optional where");
            return NULL;
        }
        where = args[7];
    }
    else if (nargs == 8) {
        where = args[7];
    }
    else if (nargs != 7) {
        PyErr_Format(PyExc_TypeError, "Node() takes 7 or 8 positional arguments (%zd given)",
                     nargs);
        return NULL;
    }
    PyObject *edges = args[1], *out_meta = args[6];
    if (!PyTuple_Check(edges) || !PyTuple_Check(args[2]) || !PyDict_Check(args[3])
        || !PyTuple_Check(args[5]) || !(out_meta == Py_None || PyTuple_Check(out_meta))) {
        PyErr_SetString(PyExc_TypeError,
                        "Node(): edges, args and versions must be tuples, kwargs a dict, "
                        "out_meta None or a tuple");
        return NULL;
    }
    for (Py_ssize_t e = 0; e < PyTuple_GET_SIZE(edges); e++) {
        PyObject *edge = PyTuple_GET_ITEM(edges, e);
        if (!PyTuple_Check(edge) || PyTuple_GET_SIZE(edge) != EDGE_LEN
            || !PyTuple_Check(PyTuple_GET_ITEM(edge, EDGE_SHAPE))) {
            PyErr_SetString(PyExc_TypeError, "Node(): each edge must be an Edge");
            return NULL;
        }
    }
    NodeObject *self = PyObject_GC_New(NodeObject, (PyTypeObject *)type);
    if (self == NULL) {
        return NULL;
    }
    self->prim = Py_NewRef(args[0]);
    self->edges = Py_NewRef(edges);
    self->args = Py_NewRef(args[2]);
    self->kwargs = Py_NewRef(args[3]);
    self->ans = Py_NewRef(args[4]);
    self->versions = Py_NewRef(args[5]);
    self->out_meta = Py_NewRef(out_meta);
    self->where = Py_NewRef(where);
    self->n_out = out_meta == Py_None ? 1 : PyTuple_GET_SIZE(out_meta);
    self->freed = 0;
    self->weakreflist = NULL;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static PyObject *
Node_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *kwnames = NULL;
    PyObject *stack[8];
    Py_ssize_t nargs = PyTuple_GET_SIZE(args), nkw = kwargs ? PyDict_GET_SIZE(kwargs) : 0;

    if (nargs + nkw > 8) {
        PyErr_SetString(PyExc_TypeError, "Node() takes at most 8 arguments");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        stack[i] = PyTuple_GET_ITEM(args, i);
    }
    if (nkw) {
        PyObject *key, *value;
        Py_ssize_t pos = 0, i = nargs;
        kwnames = PyTuple_New(nkw);
        if (kwnames == NULL) {
            return NULL;
        }
        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            PyTuple_SET_ITEM(kwnames, i - nargs, Py_NewRef(key));
            stack[i++] = value;
        }
    }
    PyObject *res = Node_vectorcall((PyObject *)type, stack, nargs, kwnames);
    Py_XDECREF(kwnames);
    return res;
}

static int
Node_traverse(NodeObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->prim);
    Py_VISIT(self->edges);
    Py_VISIT(self->args);
    Py_VISIT(self->kwargs);
    Py_VISIT(self->ans);
    Py_VISIT(self->versions);
    Py_VISIT(self->out_meta);
    Py_VISIT(self->where);
    return 0;
}

static int
Node_clear(NodeObject *self)
{
    Py_CLEAR(self->prim);
    Py_CLEAR(self->edges);
    Py_CLEAR(self->args);
    Py_CLEAR(self->kwargs);
    Py_CLEAR(self->ans);
    Py_CLEAR(self->versions);
    Py_CLEAR(self->out_meta);
    Py_CLEAR(self->where);
    return 0;
}

static void
Node_dealloc(NodeObject *self)
{
    PyObject_GC_UnTrack(self);
    /* A chain of nodes frees its parents from here: the trashcan defers the deeper levels. */
    Py_TRASHCAN_BEGIN(self, Node_dealloc)
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    Node_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
    Py_TRASHCAN_END
}

static PyObject *
Node_get_name(NodeObject *self, void *closure)
{
    return PyObject_GetAttrString(self->prim != NULL ? self->prim : Py_None, "name");
}

static PyObject *
Node_repr(NodeObject *self)
{
    PyObject *name = Node_get_name(self, NULL);
    if (name == NULL) {
        return NULL;
    }
    PyObject *res = PyUnicode_FromFormat("<Node %S>", name);
    Py_DECREF(name);
    return res;
}

static PyMemberDef Node_members[] = {
    {"prim", T_OBJECT, offsetof(NodeObject, prim), READONLY, NULL},
    {"edges", T_OBJECT, offsetof(NodeObject, edges), READONLY, NULL},
    {"out_meta", T_OBJECT, offsetof(NodeObject, out_meta), READONLY, NULL},
    {"where", T_OBJECT, offsetof(NodeObject, where), READONLY, NULL},
    {"n_out", T_PYSSIZET, offsetof(NodeObject, n_out), READONLY, NULL},
    {"freed", T_BOOL, offsetof(NodeObject, freed), 0, NULL},
    {"__weaklistoffset__", T_PYSSIZET, offsetof(NodeObject, weakreflist), READONLY, NULL},
    {NULL},
};

/* The fields backward reads in C can be replaced (version checks substitute copies, release
 * empties them) but never deleted, and keep their types: args and versions tuples, kwargs a
 * dict. */
static PyObject *
Node_get_field(NodeObject *self, void *offset)
{
    PyObject *value = *(PyObject **)((char *)self + (Py_ssize_t)offset);
    return Py_NewRef(value != NULL ? value : Py_None);
}

static int
Node_set_field(NodeObject *self, PyObject *value, void *offset)
{
    Py_ssize_t at = (Py_ssize_t)offset;
    int ok;
    if (value == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a Node's fields cannot be deleted");
        return -1;
    }
    if (at == offsetof(NodeObject, kwargs)) {
        ok = PyDict_Check(value);
    }
    else if (at == offsetof(NodeObject, ans)) {
        ok = 1;
    }
    else {
        ok = PyTuple_Check(value);
    }
    if (!ok) {
        PyErr_SetString(PyExc_TypeError, "Node: args and versions are tuples, kwargs a dict");
        return -1;
    }
    PyObject **field = (PyObject **)((char *)self + at);
    Py_XSETREF(*field, Py_NewRef(value));
    return 0;
}

#define NODE_FIELD(name, doc)                                                                  \
    {#name, (getter)Node_get_field, (setter)Node_set_field, doc,                              \
     (void *)offsetof(NodeObject, name)}

static PyGetSetDef Node_getset[] = {
    {"name", (getter)Node_get_name, NULL, "The primitive's name.", NULL},
    NODE_FIELD(args, "What the rules read, plain arrays (a tuple)."),
    NODE_FIELD(kwargs, "The rules' keyword arguments (a dict)."),
    NODE_FIELD(ans, "The saved output(s), or None."),
    NODE_FIELD(versions, "counter, seen, what, hold for each saved array (a flat tuple)."),
    {NULL},
};

PyDoc_STRVAR(Node_doc,
"Node(prim, edges, args, kwargs, ans, versions, out_meta, where=None)\n"
"--\n\n"
"One recorded operation (see ndgrad._graph for what each field holds).");

static PyTypeObject NodeType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ndgrad._core.Node",
    .tp_basicsize = sizeof(NodeObject),
    .tp_dealloc = (destructor)Node_dealloc,
    .tp_repr = (reprfunc)Node_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = Node_doc,
    .tp_traverse = (traverseproc)Node_traverse,
    .tp_clear = (inquiry)Node_clear,
    .tp_weaklistoffset = offsetof(NodeObject, weakreflist),
    .tp_members = Node_members,
    .tp_getset = Node_getset,
    .tp_new = Node_new,
    .tp_vectorcall = Node_vectorcall,
};

/* Drop what a node saved once backward has used it (retain_graph=False). */
static void
release_node(NodeObject *node)
{
    Py_SETREF(node->args, Py_NewRef(EmptyTuple));
    Py_SETREF(node->kwargs, Py_NewRef(NoKwargs));
    Py_SETREF(node->ans, Py_NewRef(Py_None));
    Py_SETREF(node->versions, Py_NewRef(EmptyTuple));
    node->freed = 1;
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */

/* The edges of a graph node: borrowed (a Node's field), or new (a LeafNode's class attribute).
 * *owned says which; NULL on error. */
static PyObject *
edges_of(PyObject *node, int *owned)
{
    if (Node_Check(node)) {
        *owned = 0;
        return ((NodeObject *)node)->edges;
    }
    *owned = 1;
    PyObject *edges = PyObject_GetAttr(node, str_edges);
    if (edges != NULL && !PyTuple_Check(edges)) {
        Py_DECREF(edges);
        PyErr_SetString(PyExc_TypeError, "a graph node's edges must be a tuple");
        return NULL;
    }
    return edges;
}

/* Add id(obj) to the set ``owned`` (ids, as id() gives them). 0 on success. */
static int
own(PyObject *owned, PyObject *obj)
{
    PyObject *key = PyLong_FromVoidPtr(obj);
    if (key == NULL) {
        return -1;
    }
    int rc = PySet_Add(owned, key);
    Py_DECREF(key);
    return rc;
}

/* 1 if id(obj) is in ``owned``, 0 if not, -1 on error. */
static int
is_owned(PyObject *owned, PyObject *obj)
{
    PyObject *key = PyLong_FromVoidPtr(obj);
    if (key == NULL) {
        return -1;
    }
    int rc = PySet_Contains(owned, key);
    Py_DECREF(key);
    return rc;
}

static int
disown(PyObject *owned, PyObject *obj)
{
    PyObject *key = PyLong_FromVoidPtr(obj);
    if (key == NULL) {
        return -1;
    }
    int rc = PySet_Discard(owned, key);
    Py_DECREF(key);
    return rc < 0 ? -1 : 0;
}

/* 1 if array ``c`` has exactly the shape ``shape`` (a tuple of ints), 0 if not, -1 on error. */
static int
same_shape(PyArrayObject *c, PyObject *shape)
{
    Py_ssize_t nd = PyTuple_GET_SIZE(shape);
    if (nd != PyArray_NDIM(c)) {
        return 0;
    }
    npy_intp *dims = PyArray_DIMS(c);
    for (Py_ssize_t i = 0; i < nd; i++) {
        Py_ssize_t n = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, i));
        if (n == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (n != dims[i]) {
            return 0;
        }
    }
    return 1;
}

/* ``value[i][j]...`` for path (i, j, ...): new reference. */
static PyObject *
at_path(PyObject *value, PyObject *path)
{
    Py_INCREF(value);
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(path); i++) {
        Py_SETREF(value, PyObject_GetItem(value, PyTuple_GET_ITEM(path, i)));
        if (value == NULL) {
            return NULL;
        }
    }
    return value;
}

/* dict.pop(key, None) for a dict: new reference or NULL without an error when absent. */
static PyObject *
dict_pop(PyObject *dict, PyObject *key)
{
    PyObject *value = PyDict_GetItemWithError(dict, key);
    if (value == NULL) {
        return NULL;
    }
    Py_INCREF(value);
    if (PyDict_DelItem(dict, key) < 0) {
        Py_DECREF(value);
        return NULL;
    }
    return value;
}

/* ------------------------------------------------------------------------------------------ */
/* collect_nodes                                                                               */

PyDoc_STRVAR(collect_nodes_doc,
"collect_nodes(roots, stop) -> dict\n"
"--\n\n"
"Count, for every node reachable from ``roots``, the edges that point at it (nodes in\n"
"``stop`` are not entered).");

static PyObject *
collect_nodes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "collect_nodes(roots, stop)");
        return NULL;
    }
    PyObject *stop = args[1];
    int check_stop = PyObject_IsTrue(stop);
    if (check_stop < 0) {
        return NULL;
    }
    PyObject *deps = PyDict_New();
    PyObject *stack = PyList_New(0);
    PyObject *pushed = PySet_New(NULL);
    PyObject *roots = PySequence_Fast(args[0], "roots must be a sequence");
    if (deps == NULL || stack == NULL || pushed == NULL || roots == NULL) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(roots); i++) {
        PyObject *root = PySequence_Fast_GET_ITEM(roots, i);
        int seen = PySet_Contains(pushed, root);
        if (seen < 0 || (!seen && (PySet_Add(pushed, root) < 0 || PyList_Append(stack, root) < 0))) {
            goto error;
        }
    }
    while (PyList_GET_SIZE(stack)) {
        Py_ssize_t top = PyList_GET_SIZE(stack) - 1;
        PyObject *node = Py_NewRef(PyList_GET_ITEM(stack, top));  /* owned until the end */
        if (PyList_SetSlice(stack, top, top + 1, NULL) < 0) {
            Py_DECREF(node);
            goto error;
        }
        if (check_stop) {
            int in_stop = PySequence_Contains(stop, node);
            if (in_stop) {
                Py_DECREF(node);
                if (in_stop < 0) {
                    goto error;
                }
                continue;
            }
        }
        int owned_edges;
        PyObject *edges = edges_of(node, &owned_edges);
        if (edges == NULL) {
            Py_DECREF(node);
            goto error;
        }
        int failed = 0;
        for (Py_ssize_t e = 0; e < PyTuple_GET_SIZE(edges) && !failed; e++) {
            PyObject *parent = PyTuple_GET_ITEM(PyTuple_GET_ITEM(edges, e), EDGE_PARENT);
            PyObject *count = PyDict_GetItemWithError(deps, parent);  /* borrowed */
            if (count != NULL) {
                PyObject *more = PyLong_FromSsize_t(PyLong_AsSsize_t(count) + 1);
                failed = more == NULL || PyDict_SetItem(deps, parent, more) < 0;
                Py_XDECREF(more);
                continue;
            }
            if (PyErr_Occurred()) {
                failed = 1;
                break;
            }
            PyObject *one = PyLong_FromLong(1);
            failed = one == NULL || PyDict_SetItem(deps, parent, one) < 0;
            Py_XDECREF(one);
            if (!failed) {
                int was_pushed = PySet_Contains(pushed, parent);
                failed = was_pushed < 0 || (!was_pushed && PyList_Append(stack, parent) < 0);
            }
        }
        if (owned_edges) {
            Py_DECREF(edges);
        }
        Py_DECREF(node);
        if (failed) {
            goto error;
        }
    }
    Py_DECREF(stack);
    Py_DECREF(pushed);
    Py_DECREF(roots);
    return deps;

error:
    Py_XDECREF(deps);
    Py_XDECREF(stack);
    Py_XDECREF(pushed);
    Py_XDECREF(roots);
    return NULL;
}

/* ------------------------------------------------------------------------------------------ */
/* store                                                                                       */

/* Add cotangent ``c`` (borrowed) to what output ``out`` of ``node`` has received so far in
 * ``grads``. ``fresh``: nothing but this backward refers to ``c``, so that later cotangents
 * may be added into it in place (when ``inplace``). 0 on success, -1 on error. */
static int
store_cotangent(PyObject *grads, PyObject *owned, PyObject *node, Py_ssize_t out, PyObject *c,
                int inplace, int fresh)
{
    Py_ssize_t n_out = n_out_of(node);
    PyObject *slots = NULL;  /* the node's list of per-output cotangents (n_out > 1), borrowed */
    PyObject *prev;          /* borrowed */
    PyObject *total;         /* new */

    if (n_out == 1) {
        prev = PyDict_GetItemWithError(grads, node);
        if (prev == NULL && PyErr_Occurred()) {
            return -1;
        }
    }
    else {
        slots = PyDict_GetItemWithError(grads, node);
        if (slots == NULL) {
            if (PyErr_Occurred()) {
                return -1;
            }
            slots = PyList_New(n_out);
            if (slots == NULL) {
                return -1;
            }
            for (Py_ssize_t i = 0; i < n_out; i++) {
                PyList_SET_ITEM(slots, i, Py_NewRef(Py_None));
            }
            int rc = PyDict_SetItem(grads, node, slots);
            Py_DECREF(slots);  /* grads holds it */
            if (rc < 0) {
                return -1;
            }
        }
        if (!PyList_Check(slots) || out < 0 || out >= PyList_GET_SIZE(slots)) {
            PyErr_SetString(PyExc_IndexError, "backward: cotangent for a missing output");
            return -1;
        }
        prev = PyList_GET_ITEM(slots, out);
    }
    if (prev == NULL || prev == Py_None) {
        total = Py_NewRef(c);
        if (fresh && inplace && own(owned, c) < 0) {
            Py_DECREF(total);
            return -1;
        }
    }
    else {
        int mine = inplace ? is_owned(owned, prev) : 0;
        if (mine < 0) {
            return -1;
        }
        if (mine) {
            /* a sum this backward allocated itself: nobody else holds it */
            total = PyNumber_InPlaceAdd(prev, c);
            if (total == NULL) {
                return -1;
            }
        }
        else {
            total = PyNumber_Add(prev, c);
            if (total == NULL || own(owned, total) < 0) {
                Py_XDECREF(total);
                return -1;
            }
        }
    }
    int rc;
    if (slots == NULL) {
        rc = PyDict_SetItem(grads, node, total);
        Py_DECREF(total);
    }
    else {
        rc = PyList_SetItem(slots, out, total);  /* steals total */
    }
    return rc;
}

PyDoc_STRVAR(store_doc,
"store(grads, owned, node, out, c, inplace, fresh)\n"
"--\n\n"
"Add cotangent ``c`` to what ``node``'s output ``out`` has received so far.");

static PyObject *
store(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 7 || !PyDict_Check(args[0]) || !PySet_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "store(grads: dict, owned: set, node, out, c, inplace, "
                                         "fresh)");
        return NULL;
    }
    Py_ssize_t out = PyLong_AsSsize_t(args[3]);
    int inplace = PyObject_IsTrue(args[5]), fresh = PyObject_IsTrue(args[6]);
    if ((out == -1 && PyErr_Occurred()) || inplace < 0 || fresh < 0) {
        return NULL;
    }
    if (store_cotangent(args[0], args[1], args[2], out, args[4], inplace, fresh) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* run_backward                                                                                */

/* The state of one backward pass: all borrowed from run_backward's arguments. */
typedef struct {
    PyObject *ready;    /* list: nodes whose cotangents are complete */
    PyObject *left;     /* dict: node -> edges not yet visited */
    PyObject *grads;    /* dict: node -> cotangent (or list of them) */
    PyObject *owned;    /* set: ids of cotangents only this pass holds */
    PyObject *targets;  /* set: the nodes whose cotangents are returned (inputs=) */
    PyObject *needed;   /* set of nodes a target can be reached through, or None */
    PyObject *results;  /* dict: target node -> cotangent */
    PyObject *lift;     /* graph_array for create_graph, or None */
    int has_targets, accumulate, retain_graph, inplace, inline_common, check_saved;
} Pass;

/* 1 if ``node`` is needed (no inputs= given, or a target can be reached through it). */
static inline int
is_needed(Pass *p, PyObject *node)
{
    return p->needed == Py_None ? 1 : PySet_Contains(p->needed, node);
}

/* The common node (one rule per argument, no where=, plain arrays): each edge's rule runs
 * here, on ``g`` (borrowed). 0 on success, -1 on error. */
static int
run_common(Pass *p, NodeObject *node, PyObject *g, PyObject *rules)
{
    /* Strong references for the duration: a rule may (through a hook) replace the fields. */
    PyObject *args = Py_NewRef(node->args), *kwargs = Py_NewRef(node->kwargs);
    PyObject *ans = Py_NewRef(node->ans), *edges = Py_NewRef(node->edges);
    PyObject *prim = Py_NewRef(node->prim);
    PyObject *by_slot = NULL;  /* slot -> cotangent of a sequence argument, run once */
    PyObject *small[16];
    PyObject **stack = small;
    Py_ssize_t n_args = PyTuple_GET_SIZE(args), n_rules = PyTuple_GET_SIZE(rules);
    int rc = -1;

    if (n_args + 2 > 16) {
        stack = PyMem_New(PyObject *, n_args + 2);
        if (stack == NULL) {
            PyErr_NoMemory();
            goto done;
        }
    }
    stack[0] = g;
    stack[1] = ans;
    for (Py_ssize_t i = 0; i < n_args; i++) {
        stack[i + 2] = PyTuple_GET_ITEM(args, i);
    }
    PyObject *call_kwargs = PyDict_GET_SIZE(kwargs) ? kwargs : NULL;

    for (Py_ssize_t e = 0; e < PyTuple_GET_SIZE(edges); e++) {
        PyObject *edge = PyTuple_GET_ITEM(edges, e);
        PyObject *flat = PyTuple_GET_ITEM(edge, EDGE_FLAT);
        PyObject *parent = PyTuple_GET_ITEM(edge, EDGE_PARENT);
        Py_ssize_t slot = PyLong_AsSsize_t(PyTuple_GET_ITEM(edge, EDGE_SLOT));
        if (slot == -1 && PyErr_Occurred()) {
            goto done;
        }
        PyObject *rule = slot >= 0 && slot < n_rules ? PyTuple_GET_ITEM(rules, slot) : Py_None;
        if (rule == Py_None) {
            continue;
        }
        int need = is_needed(p, parent);
        if (need <= 0) {
            if (need < 0) {
                goto done;
            }
            continue;
        }
        PyObject *c;  /* new */
        if (flat == Py_None) {
            c = PyObject_VectorcallDict(rule, stack, n_args + 2, call_kwargs);
        }
        else {
            PyObject *whole;  /* borrowed from by_slot */
            PyObject *key = PyTuple_GET_ITEM(edge, EDGE_SLOT);
            if (by_slot == NULL && (by_slot = PyDict_New()) == NULL) {
                goto done;
            }
            whole = PyDict_GetItemWithError(by_slot, key);
            if (whole == NULL) {
                if (PyErr_Occurred()) {
                    goto done;
                }
                PyObject *made = PyObject_VectorcallDict(rule, stack, n_args + 2, call_kwargs);
                if (made == NULL) {
                    goto done;
                }
                int set = PyDict_SetItem(by_slot, key, made);
                Py_DECREF(made);
                if (set < 0) {
                    goto done;
                }
                whole = made;  /* by_slot holds it */
            }
            c = whole == Py_None ? Py_NewRef(Py_None) : at_path(whole, flat);
        }
        if (c == NULL) {
            goto done;
        }
        if (c == Py_None) {
            Py_DECREF(c);
            continue;
        }
        if (!PyArray_CheckExact(c)) {
            /* np.asarray: a NumPy scalar or Python number becomes a 0-d base-class array */
            Py_SETREF(c, PyArray_FromAny(c, NULL, 0, 0, NPY_ARRAY_ENSUREARRAY, NULL));
            if (c == NULL) {
                goto done;
            }
        }
        int shaped = same_shape((PyArrayObject *)c, PyTuple_GET_ITEM(edge, EDGE_SHAPE));
        if (shaped < 0) {
            Py_DECREF(c);
            goto done;
        }
        PyObject *dtype = PyTuple_GET_ITEM(edge, EDGE_DTYPE);
        PyObject *descr = (PyObject *)PyArray_DESCR((PyArrayObject *)c);
        int typed = descr == dtype ? 1 : PyObject_RichCompareBool(descr, dtype, Py_EQ);
        if (typed < 0) {
            Py_DECREF(c);
            goto done;
        }
        if (!shaped || !typed) {
            Py_SETREF(c, PyObject_CallFunctionObjArgs(Fit, c, edge, prim, NULL));
            if (c == NULL) {
                goto done;
            }
        }
        /* Only this loop refers to ``c``: later cotangents may be added into it in place. */
        int fresh = PyArray_CheckExact(c) && PyArray_BASE((PyArrayObject *)c) == NULL
                    && Py_REFCNT(c) == 1 && PyArray_ISWRITEABLE((PyArrayObject *)c);
        Py_ssize_t out = PyLong_AsSsize_t(PyTuple_GET_ITEM(edge, EDGE_OUT));
        if (out == -1 && PyErr_Occurred()) {
            Py_DECREF(c);
            goto done;
        }
        int stored = store_cotangent(p->grads, p->owned, parent, out, c, 1, fresh);
        Py_DECREF(c);
        if (stored < 0) {
            goto done;
        }
    }
    rc = 0;

done:
    if (stack != small) {
        PyMem_Free(stack);
    }
    Py_XDECREF(by_slot);
    Py_DECREF(args);
    Py_DECREF(kwargs);
    Py_DECREF(ans);
    Py_DECREF(edges);
    Py_DECREF(prim);
    return rc;
}

/* Any other node: the rules run through _graph._cotangents (where=, a rule per set of
 * arguments, create_graph), whose (edge, cotangent) pairs are stored here. */
static int
run_general(Pass *p, NodeObject *node, PyObject *g)
{
    PyObject *pairs = PyObject_CallFunctionObjArgs(Cotangents, (PyObject *)node, g, p->lift,
                                                   NULL);
    if (pairs == NULL) {
        return -1;
    }
    PyObject *iter = PyObject_GetIter(pairs);
    Py_DECREF(pairs);
    if (iter == NULL) {
        return -1;
    }
    PyObject *pair;
    while ((pair = PyIter_Next(iter)) != NULL) {
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "_cotangents must yield (edge, cotangent) pairs");
            Py_DECREF(pair);
            break;
        }
        PyObject *edge = PyTuple_GET_ITEM(pair, 0), *c = PyTuple_GET_ITEM(pair, 1);
        PyObject *parent = PyTuple_GET_ITEM(edge, EDGE_PARENT);
        Py_ssize_t out = PyLong_AsSsize_t(PyTuple_GET_ITEM(edge, EDGE_OUT));
        int need = out == -1 && PyErr_Occurred() ? -1 : is_needed(p, parent);
        int rc = need <= 0 ? need
                           : store_cotangent(p->grads, p->owned, parent, out, c, p->inplace, 0);
        Py_DECREF(pair);
        if (rc < 0) {
            break;
        }
    }
    Py_DECREF(iter);
    return PyErr_Occurred() ? -1 : 0;
}

/* The saved arrays need checking before use: some are saved and either the fingerprints are
 * compared, or there is more than one, or the one's version moved. 1, 0, or -1 on error. */
static int
versions_to_check(Pass *p, NodeObject *node)
{
    PyObject *versions = node->versions;
    Py_ssize_t n = PyTuple_GET_SIZE(versions);
    if (n == 0) {
        return 0;
    }
    if (p->check_saved || n != 4) {
        return 1;
    }
    PyObject *counter = PyTuple_GET_ITEM(versions, 0);
    PyObject *now = PySequence_GetItem(counter, 0);
    if (now == NULL) {
        return -1;
    }
    int moved = PyObject_RichCompareBool(now, PyTuple_GET_ITEM(versions, 1), Py_NE);
    Py_DECREF(now);
    return moved;
}

/* Visit ``node`` (borrowed): take its cotangent, run its rules, store what they return.
 * 0 on success, -1 on error. */
static int
visit(Pass *p, PyObject *node)
{
    PyObject *g;  /* new, or NULL for no cotangent */
    if (n_out_of(node) == 1) {
        g = dict_pop(p->grads, node);
        if (g == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (g != NULL && PySet_GET_SIZE(p->owned) && disown(p->owned, g) < 0) {
            Py_DECREF(g);
            return -1;
        }
    }
    else {
        g = PyObject_CallFunctionObjArgs(Take, p->grads, p->owned, node, NULL);
        if (g == NULL) {
            return -1;
        }
        if (g == Py_None) {
            Py_CLEAR(g);
        }
    }
    if (p->has_targets) {
        int is_target = PySet_Contains(p->targets, node);
        if (is_target) {
            int rc = is_target < 0 ? -1
                                   : PyDict_SetItem(p->results, node, g ? g : Py_None);
            Py_XDECREF(g);
            return rc < 0 ? -1 : 1;  /* 1: stop here, the target's parents are not visited */
        }
    }
    int need = g == NULL ? 0 : is_needed(p, node);
    if (need < 0) {
        Py_DECREF(g);
        return -1;
    }
    if (need && (PyObject *)Py_TYPE(node) == LeafNodeType) {
        int rc = 0;
        if (p->accumulate) {
            /* Only this pass holds ``g`` (the reference taken from grads): it may become the
             * leaf's .grad without a copy. */
            PyObject *stealable = Py_REFCNT(g) == 1 ? Py_True : Py_False;
            PyObject *res = PyObject_CallFunctionObjArgs(AccumulateLeaf, node, g, stealable,
                                                         NULL);
            rc = res == NULL ? -1 : 0;
            Py_XDECREF(res);
        }
        Py_DECREF(g);
        return rc < 0 ? -1 : 1;  /* a leaf has no parents */
    }
    if (need) {
        if (!Node_Check(node)) {
            PyErr_SetString(PyExc_TypeError, "backward reached an object that is not a node");
            Py_DECREF(g);
            return -1;
        }
        NodeObject *n = (NodeObject *)node;
        int rc = 0;
        if (n->freed) {
            PyObject *res = PyObject_CallOneArg(CheckLive, node);
            rc = res == NULL ? -1 : 0;
            Py_XDECREF(res);
        }
        if (rc == 0) {
            int check = versions_to_check(p, n);
            if (check > 0) {
                PyObject *res = PyObject_CallOneArg(CheckVersions, node);
                rc = res == NULL ? -1 : 0;
                Py_XDECREF(res);
            }
            else {
                rc = check;
            }
        }
        if (rc == 0) {
            PyObject *rules = NULL;
            int common = p->inline_common && n->where == Py_None;
            if (common) {
                PyObject *argnum_rule = PyObject_GetAttr(n->prim, str_argnum_rule);
                if (argnum_rule == NULL) {
                    rc = -1;
                }
                else {
                    common = argnum_rule == Py_None;
                    Py_DECREF(argnum_rule);
                }
            }
            if (rc == 0 && common) {
                rules = PyObject_GetAttr(n->prim, str_rules);
                if (rules == NULL) {
                    rc = -1;
                }
                else if (!PyTuple_Check(rules)) {
                    PyErr_SetString(PyExc_TypeError, "Primitive.rules must be a tuple");
                    rc = -1;
                }
                else {
                    rc = run_common(p, n, g, rules);
                }
                Py_XDECREF(rules);
            }
            else if (rc == 0) {
                rc = run_general(p, n, g);
            }
        }
        Py_DECREF(g);
        if (rc < 0) {
            return -1;
        }
    }
    else {
        Py_XDECREF(g);
    }
    return 0;
}

/* Count down the edges of ``node`` (borrowed) and queue the parents that are complete. */
static int
release_parents(Pass *p, PyObject *node)
{
    int owned_edges;
    PyObject *edges = edges_of(node, &owned_edges);
    if (edges == NULL) {
        return -1;
    }
    int rc = 0;
    for (Py_ssize_t e = 0; e < PyTuple_GET_SIZE(edges) && rc == 0; e++) {
        PyObject *parent = PyTuple_GET_ITEM(PyTuple_GET_ITEM(edges, e), EDGE_PARENT);
        PyObject *count = PyDict_GetItemWithError(p->left, parent);  /* borrowed */
        if (count == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetObject(PyExc_KeyError, parent);
            }
            rc = -1;
            break;
        }
        Py_ssize_t left = PyLong_AsSsize_t(count) - 1;
        if (left == -2 && PyErr_Occurred()) {
            rc = -1;
            break;
        }
        PyObject *value = PyLong_FromSsize_t(left);
        rc = value == NULL || PyDict_SetItem(p->left, parent, value) < 0 ? -1 : 0;
        Py_XDECREF(value);
        if (rc == 0 && left == 0) {
            rc = PyList_Append(p->ready, parent);
        }
    }
    if (owned_edges) {
        Py_DECREF(edges);
    }
    return rc;
}

PyDoc_STRVAR(run_backward_doc,
"run_backward(ready, left, grads, owned, targets, needed, results, lift, accumulate,\n"
"             retain_graph, inplace, inline_common, check_saved)\n"
"--\n\n"
"The loop of _graph.backward: visit the nodes in ``ready`` and those they complete, in\n"
"Kahn's order, running their rules and storing the cotangents in ``grads``.");

static PyObject *
run_backward(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 13 || !PyList_Check(args[0]) || !PyDict_Check(args[1])
        || !PyDict_Check(args[2]) || !PySet_Check(args[3]) || !PyAnySet_Check(args[4])
        || !(args[5] == Py_None || PyAnySet_Check(args[5])) || !PyDict_Check(args[6])) {
        PyErr_SetString(PyExc_TypeError, "run_backward: wrong arguments");
        return NULL;
    }
    if (LeafNodeType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ndgrad._core.configure() was not called");
        return NULL;
    }
    Pass p = {
        .ready = args[0], .left = args[1], .grads = args[2], .owned = args[3],
        .targets = args[4], .needed = args[5], .results = args[6], .lift = args[7],
    };
    int flags[5];
    for (int i = 0; i < 5; i++) {
        flags[i] = PyObject_IsTrue(args[8 + i]);
        if (flags[i] < 0) {
            return NULL;
        }
    }
    p.accumulate = flags[0];
    p.retain_graph = flags[1];
    p.inplace = flags[2];
    p.inline_common = flags[3];
    p.check_saved = flags[4];
    p.has_targets = PySet_GET_SIZE(p.targets) != 0;

    while (PyList_GET_SIZE(p.ready)) {
        Py_ssize_t top = PyList_GET_SIZE(p.ready) - 1;
        PyObject *node = Py_NewRef(PyList_GET_ITEM(p.ready, top));
        if (PyList_SetSlice(p.ready, top, top + 1, NULL) < 0) {
            Py_DECREF(node);
            return NULL;
        }
        int rc = visit(&p, node);
        if (rc == 0) {
            rc = release_parents(&p, node);
            if (rc == 0 && !p.retain_graph && Node_Check(node)) {
                release_node((NodeObject *)node);
            }
        }
        Py_DECREF(node);
        if (rc < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* configure                                                                                   */

PyDoc_STRVAR(configure_doc,
"configure(LeafNode, NO_KWARGS, accumulate_leaf, check_live, check_versions, cotangents,\n"
"          fit, take)\n"
"--\n\n"
"Register the Python parts of the backward pass (ndgrad._graph calls this once).");

static PyObject *
configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject **slots[] = {&LeafNodeType, &NoKwargs, &AccumulateLeaf, &CheckLive,
                          &CheckVersions, &Cotangents, &Fit, &Take};
    if (nargs != 8 || !PyType_Check(args[0]) || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "configure(LeafNode, NO_KWARGS, accumulate_leaf, "
                                         "check_live, check_versions, cotangents, fit, take)");
        return NULL;
    }
    for (int i = 0; i < 8; i++) {
        Py_XSETREF(*slots[i], Py_NewRef(args[i]));
    }
    Py_RETURN_NONE;
}

static PyMethodDef core_methods[] = {
    {"collect_nodes", (PyCFunction)(void (*)(void))collect_nodes, METH_FASTCALL,
     collect_nodes_doc},
    {"store", (PyCFunction)(void (*)(void))store, METH_FASTCALL, store_doc},
    {"run_backward", (PyCFunction)(void (*)(void))run_backward, METH_FASTCALL,
     run_backward_doc},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_FASTCALL, configure_doc},
    {NULL},
};

static int
core_traverse(PyObject *module, visitproc visit, void *arg)
{
    Py_VISIT(LeafNodeType);
    Py_VISIT(NoKwargs);
    Py_VISIT(AccumulateLeaf);
    Py_VISIT(CheckLive);
    Py_VISIT(CheckVersions);
    Py_VISIT(Cotangents);
    Py_VISIT(Fit);
    Py_VISIT(Take);
    return 0;
}

static struct PyModuleDef core_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "ndgrad._core",
    .m_doc = "The compiled hot path of ndgrad's engine: nodes and the backward loop.",
    .m_size = -1,
    .m_methods = core_methods,
    .m_traverse = core_traverse,
};

PyMODINIT_FUNC
PyInit__core(void)
{
    import_array();
    if (PyType_Ready(&NodeType) < 0) {
        return NULL;
    }
    EmptyTuple = PyTuple_New(0);
    str_rules = PyUnicode_InternFromString("rules");
    str_argnum_rule = PyUnicode_InternFromString("argnum_rule");
    str_edges = PyUnicode_InternFromString("edges");
    if (EmptyTuple == NULL || str_rules == NULL || str_argnum_rule == NULL || str_edges == NULL) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Node", (PyObject *)&NodeType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
