/*
 * ndgrad._core: the compiled hot path of the engine.
 *
 * What lives here, and nowhere else:
 *
 * - ``Node``, one recorded operation (the type; what its fields mean is documented in
 *   ndgrad/_graph.py, which re-exports it);
 * - ``collect_nodes``, the dependency count of a graph; ``forward_order``, the nodes of a
 *   forward pass;
 * - ``backward_pass``, the backward pass: the graph's order, the cotangents' sums and the loop
 *   that visits each node once in Kahn's order. It runs the rules of the common node itself
 *   and hands every other case (a leaf's accumulation, version checks, a node with several
 *   outputs, ``where=``, a rule per set of arguments, create_graph) to the Python functions
 *   ndgrad/_graph.py registers with ``configure``; each of those is therefore defined once,
 *   in Python;
 * - ``ArrayBase.__array_ufunc__`` (GradArray's), the common ufunc call: computed, wrapped and
 *   recorded, or handed to the general path, GradArray.array_ufunc_general;
 * - ``function_fast``, the common call of a NumPy function with a rule;
 * - ``forward_steps``, the loop of forward mode's pass (ndgrad/_forward.py: its common node
 *   computed here, every other one by its Python routine);
 * - the alias registry's entries and the fingerprints of saved arrays;
 * - ``ArraysFirst``, the replacement of ``np.sum`` and its kind in conversion scopes (an
 *   argument that is no list or tuple goes straight to NumPy's function);
 * - ``Scope``, the entry and exit of ndgrad.tracing (the count of open scopes and the swap of
 *   numpy's class; what a scope does is ndgrad/tracing.py's).
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
static PyTypeObject *EdgeType;    /* ndgrad._graph.Edge */
static PyObject *NoKwargs;        /* ndgrad._graph.NO_KWARGS, the shared empty dict */
static PyObject *AccumulateLeaf;  /* _accumulate_leaf(node, g, stealable) */
static PyObject *CheckLive;       /* _check_live(node): raises for a freed node */
static PyObject *CheckVersions;   /* _check_versions(node) */
static PyObject *Cotangents;      /* _cotangents(node, g, lift): (edge, cotangent) pairs */
static PyObject *Fit;             /* _fit(c, edge, prim) */
static PyObject *Take;            /* _take(grads, owned, node) for a node with several outputs */
static PyObject *InertTypes;      /* tuple of the types whose references never lead to a node */
static PyObject *ArrayMetaType;   /* the first of them: what a node keeps of an argument's shape */
static PyObject *PermanentPrims;  /* set: the primitives the registry holds for good */
static PyObject *EmptyTuple;      /* () */
/* (None,) to (None, None, None, None): the arguments of a node whose rules read none of them
 * (``add``, ``tanh``), one shared tuple per length rather than one per node */
enum { N_NONE_TUPLES = 4 };
static PyObject *NoneTuples[N_NONE_TUPLES + 1];
static PyObject *str_fp, *str_rules, *str_argnum_rule, *str_edges, *str_inplace_rules,
    *str_unit_rules, *str_array_method;
static PyObject *int_zero, *int_one, *int_output;  /* 0, 1 and _graph.OUTPUT (-1) */

/* What ndgrad/_array.py registers with configure_array() that the backward loop reads too. */
static PyTypeObject *GradArrayType;  /* ndgrad.GradArray */
/* The byte offsets of GradArray's slots (its __slots__ are member descriptors). */
static Py_ssize_t off_node, off_out, off_base_ga, off_version, off_grad, off_view_fn, off_seen;
static Py_ssize_t off_leaf_ref;  /* of LeafNode's slot ``ref`` (set by configure) */

#define FIELD(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* The offset of slot ``name`` of ``type``, or -1 with an error. */
static Py_ssize_t
slot_offset(PyTypeObject *type, const char *name)
{
    PyObject *descr = PyDict_GetItemString(type->tp_dict, name);  /* borrowed */
    if (descr == NULL || !Py_IS_TYPE(descr, &PyMemberDescr_Type)
        || ((PyMemberDescrObject *)descr)->d_member->type != T_OBJECT_EX) {
        PyErr_Format(PyExc_TypeError, "%s.%s must be a __slots__ entry", type->tp_name, name);
        return -1;
    }
    return ((PyMemberDescrObject *)descr)->d_member->offset;
}

/* The slots of ndgrad._registry.Primitive the hot path reads, by offset (set by configure):
 * read directly from an exact Primitive, through getattr from anything else. */
static PyTypeObject *PrimitiveType;
static Py_ssize_t off_rules, off_argnum_rule, off_inplace_rules, off_unit_rules, off_by_operands,
    off_positional, off_array_method, off_unbroadcast;
static PyObject *str_unbroadcast;

/* ``prim.<name>``, the slot at ``offset`` of a Primitive: new reference, NULL with an error. */
static PyObject *
prim_slot(PyObject *prim, Py_ssize_t offset, PyObject *name)
{
    if (Py_TYPE(prim) == PrimitiveType && FIELD(prim, offset) != NULL) {
        return Py_NewRef(FIELD(prim, offset));
    }
    return PyObject_GetAttr(prim, name);
}

/* The fields of an edge, in the order of ndgrad._graph.Edge (a named tuple). */
enum { EDGE_SLOT, EDGE_FLAT, EDGE_PARENT, EDGE_OUT, EDGE_SHAPE, EDGE_DTYPE, EDGE_LEN };

/* ------------------------------------------------------------------------------------------ */
/* Node                                                                                       */

/* A node holds its edges inline, after its fixed fields: EDGE_LEN references per edge, in the
 * order of the enum above (Edge's). Python reads them as a tuple of Edge (``Node.edges``, built
 * when asked); C reads them in place. A chain of 10^5 operations is mostly nodes: an Edge and a
 * tuple of them per node were two more objects to allocate, to free and to fetch from memory
 * on every visit (a tenth of the time of such a chain, forward and backward). */
typedef struct {
    PyObject_VAR_HEAD    /* ob_size: the number of edges */
    PyObject *prim;      /* the Primitive */
    /* The backward pass that holds the node's claim (Claims) keeps its bookkeeping for the node
     * here rather than in dictionaries keyed by node: a field is read without hashing, and a
     * pass over 10^6 nodes builds no table of 10^6 entries. 0: no pass holds it. */
    unsigned long long claim_id;
    Py_ssize_t claim_left;  /* that pass's edges into the node not yet visited */
    PyObject *claim_grad;   /* its cotangent so far (one output), or NULL (owned) */
    PyObject *args;      /* tuple: what the rules read, plain arrays */
    PyObject *kwargs;    /* dict, NO_KWARGS when empty */
    PyObject *ans;       /* the saved output(s), or None */
    PyObject *versions;  /* flat tuple: counter, seen, what, hold per saved array */
    PyObject *out_meta;  /* None (one output) or ((shape, dtype), ...) */
    PyObject *where;     /* the where= mask, or None */
    Py_ssize_t n_out;
    unsigned long long serial;  /* the order nodes were made in (next_serial) */
    char freed;
    char claim_owned;  /* claim_grad is the pass's own (see owns): it may add into it */
    PyObject *weakreflist;
    /* ``edges`` as Python reads it, made on the first read and kept, so that each read gives
     * the same Edge objects (code keyed by them finds them again), or NULL */
    PyObject *edges_tuple;
    PyObject *edge_fields[1];  /* EDGE_LEN * ob_size references (tp_itemsize) */
} NodeObject;

/* The number of edges of a node, and the fields of its edge ``e``: borrowed references. */
#define NODE_N_EDGES(node) Py_SIZE(node)
#define NODE_EDGE(node, e) (&((NodeObject *)(node))->edge_fields[(e) * EDGE_LEN])

/* The serial the next node gets: one count for the process, read and advanced under the GIL. A
 * node made before a transform started has a smaller one (see recorded_since). */
static unsigned long long next_serial = 0;

static PyTypeObject NodeType;

#define Node_Check(op) (Py_TYPE(op) == &NodeType)

/* The number of outputs of a graph node (a Node, or a LeafNode with one). */
static inline Py_ssize_t
n_out_of(PyObject *node)
{
    return Node_Check(node) ? ((NodeObject *)node)->n_out : 1;
}

/* Whether the cyclic GC needs to see ``o`` (borrowed), a value a node holds: 0 when nothing it
 * refers to can ever lead back to a node, so no reference cycle can pass through it. That is
 * an object of a type the GC does not follow (plain ndarrays, numbers, strings, dtypes: the GC
 * does not see through them anyway); a node the GC does not track (see ``Node_vectorcall``); a
 * weak reference without a callback; an instance of one of ``InertTypes`` (ArrayMeta, the
 * guards' Hold, Held); or a tuple or slice of those, a few levels deep. 1 for anything else,
 * lists and dicts included: the caller may still hold them and add to them later. */
static int
gc_needed(PyObject *o, int depth)
{
    if (!PyObject_IS_GC(o)) {
        return 0;
    }
    if (Node_Check(o)) {
        return PyObject_GC_IsTracked(o);
    }
    if (PyWeakref_CheckRefExact(o)) {
        return ((PyWeakReference *)o)->wr_callback != NULL;
    }
    if (InertTypes != NULL) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(InertTypes); i++) {
            if ((PyObject *)Py_TYPE(o) == PyTuple_GET_ITEM(InertTypes, i)) {
                return 0;
            }
        }
    }
    if (depth >= 4) {
        return 1;
    }
    if (PySlice_Check(o)) {  /* an index: ints or None, as a rule */
        PySliceObject *sl = (PySliceObject *)o;
        return gc_needed(sl->start, depth + 1) || gc_needed(sl->stop, depth + 1)
               || gc_needed(sl->step, depth + 1);
    }
    if (PyTuple_CheckExact(o)) {
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(o); i++) {
            if (gc_needed(PyTuple_GET_ITEM(o, i), depth + 1)) {
                return 1;
            }
        }
        return 0;
    }
    return 1;
}

/* ``gc_needed`` for a node's keyword arguments: the dict is the node's own (nobody else can
 * add to it), so its values decide. */
static int
kwargs_need_gc(PyObject *kwargs)
{
    if (!PyDict_CheckExact(kwargs)) {
        return 1;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(kwargs, &pos, &key, &value)) {
        if (gc_needed(key, 1) || gc_needed(value, 1)) {
            return 1;
        }
    }
    return 0;
}

/* ``gc_needed`` for a node's versions, a flat tuple of (counter, seen, what, hold): a counter
 * is a GradArray's version list, ``[count, weak reference to its guard or None]``, which only
 * ndgrad changes, and only to values of those kinds. */
static int
versions_need_gc(PyObject *versions)
{
    if (!PyTuple_CheckExact(versions)) {
        return 1;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(versions); i++) {
        PyObject *item = PyTuple_GET_ITEM(versions, i);
        if (i % 4 == 0 && PyList_CheckExact(item) && PyList_GET_SIZE(item) == 2) {
            if (gc_needed(PyList_GET_ITEM(item, 0), 1) || gc_needed(PyList_GET_ITEM(item, 1), 1)) {
                return 1;
            }
        }
        else if (gc_needed(item, 1)) {
            return 1;
        }
    }
    return 0;
}

/* Whether a new node must be tracked by the cyclic GC. A long graph is mostly nodes and their
 * edges; tracked, each garbage collection walks all of them (half the time of recording 10^5
 * operations). A node can be left out when no reference cycle can pass through it: a cycle
 * would have to leave the graph (which only points from a node to its parents) through some
 * node's fields, so a node is left out when its own fields cannot lead back to a node
 * (``gc_needed``), its primitive is one the registry holds for good (a rule's closure cannot
 * make garbage of it), and each parent is a leaf or a node left out itself. Every other node
 * is tracked, as any container is. */
/* Primitives seen in PermanentPrims, by address: the set only grows and holds its members for
 * good, so an address found there once stays a live permanent primitive. A direct-mapped cache
 * spares every node a hash lookup (configure() empties it with a new set). */
#define PERMANENT_SEEN 64
static PyObject *permanent_seen[PERMANENT_SEEN];

/* 1 if ``prim`` (borrowed) is in PermanentPrims, 0 if not, -1 on error. */
static int
is_permanent(PyObject *prim)
{
    size_t i = ((uintptr_t)prim >> 4) % PERMANENT_SEEN;
    if (permanent_seen[i] == prim) {
        return 1;
    }
    int found = PySet_Contains(PermanentPrims, prim);
    if (found > 0) {
        permanent_seen[i] = prim;
    }
    return found;
}

static int
node_needs_gc(NodeObject *self)
{
    if (PermanentPrims == NULL || LeafNodeType == NULL) {
        return 1;
    }
    int permanent = is_permanent(self->prim);
    if (permanent <= 0) {
        PyErr_Clear();  /* an unhashable primitive: tracked */
        return 1;
    }
    for (Py_ssize_t e = 0; e < NODE_N_EDGES(self); e++) {
        PyObject *parent = NODE_EDGE(self, e)[EDGE_PARENT];
        if (Node_Check(parent) ? PyObject_GC_IsTracked(parent)
                               : (PyObject *)Py_TYPE(parent) != LeafNodeType) {
            return 1;
        }
    }
    return gc_needed(self->args, 0) || kwargs_need_gc(self->kwargs) || gc_needed(self->ans, 0)
           || versions_need_gc(self->versions) || gc_needed(self->out_meta, 0)
           || gc_needed(self->where, 0);
}

/* A node with room for ``n_edges`` edges, every field NULL, not yet tracked by the cyclic GC:
 * new reference. node_init completes it; Node_dealloc frees it as it is. */
static NodeObject *
node_alloc(Py_ssize_t n_edges)
{
    NodeObject *self = PyObject_GC_NewVar(NodeObject, &NodeType, n_edges);
    if (self == NULL) {
        return NULL;
    }
    self->prim = self->claim_grad = self->args = self->kwargs = self->ans = NULL;
    self->versions = self->out_meta = self->where = self->weakreflist = NULL;
    self->edges_tuple = NULL;
    memset(self->edge_fields, 0, (size_t)(n_edges * EDGE_LEN) * sizeof(PyObject *));
    self->claim_id = 0;
    self->claim_left = 0;
    self->claim_owned = 0;
    self->freed = 0;
    self->n_out = 1;
    self->serial = 0;
    return self;
}

/* Complete ``self`` (from node_alloc, its edges filled): the other fields (borrowed), its
 * serial, and whether the cyclic GC tracks it. Steals the reference to ``self`` and returns it
 * (it cannot fail). */
static PyObject *
node_init(NodeObject *self, PyObject *prim, PyObject *args, PyObject *kwargs, PyObject *ans,
          PyObject *versions, PyObject *out_meta, PyObject *where)
{
    self->prim = Py_NewRef(prim);
    self->args = Py_NewRef(args);
    self->kwargs = Py_NewRef(kwargs);
    self->ans = Py_NewRef(ans);
    self->versions = Py_NewRef(versions);
    self->out_meta = Py_NewRef(out_meta);
    self->where = Py_NewRef(where);
    self->n_out = out_meta == Py_None ? 1 : PyTuple_GET_SIZE(out_meta);
    self->serial = next_serial++;
    if (node_needs_gc(self)) {
        PyObject_GC_Track(self);
    }
    return (PyObject *)self;
}

/* Node(prim, edges, args, kwargs, ans, versions, out_meta, where=None): new reference. The
 * fields of each Edge of ``edges`` are copied into the node. */
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
            || !PyTuple_Check(PyTuple_GET_ITEM(edge, EDGE_SHAPE))
            || !PyLong_Check(PyTuple_GET_ITEM(edge, EDGE_SLOT))
            || !PyLong_Check(PyTuple_GET_ITEM(edge, EDGE_OUT))) {
            PyErr_SetString(PyExc_TypeError, "Node(): each edge must be an Edge");
            return NULL;
        }
    }
    NodeObject *self = node_alloc(PyTuple_GET_SIZE(edges));
    if (self == NULL) {
        return NULL;
    }
    for (Py_ssize_t e = 0; e < PyTuple_GET_SIZE(edges); e++) {
        PyObject *edge = PyTuple_GET_ITEM(edges, e);
        for (int f = 0; f < EDGE_LEN; f++) {
            NODE_EDGE(self, e)[f] = Py_NewRef(PyTuple_GET_ITEM(edge, f));
        }
    }
    return node_init(self, args[0], args[2], args[3], args[4], args[5], out_meta, where);
}

/* Edge ``e`` of ``node`` as Python sees it, an ndgrad._graph.Edge: new reference. A field a
 * collection cleared (tp_clear) reads as None. */
static PyObject *
edge_tuple(NodeObject *node, Py_ssize_t e)
{
    if (EdgeType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ndgrad._core is not configured");
        return NULL;
    }
    /* as tuple.__new__(Edge, items) does for a tuple subclass */
    PyObject *edge = EdgeType->tp_alloc(EdgeType, EDGE_LEN);
    if (edge == NULL) {
        return NULL;
    }
    for (int f = 0; f < EDGE_LEN; f++) {
        PyObject *value = NODE_EDGE(node, e)[f];
        PyTuple_SET_ITEM(edge, f, Py_NewRef(value != NULL ? value : Py_None));
    }
    return edge;
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
    for (Py_ssize_t i = 0; i < NODE_N_EDGES(self) * EDGE_LEN; i++) {
        Py_VISIT(self->edge_fields[i]);
    }
    Py_VISIT(self->edges_tuple);
    Py_VISIT(self->args);
    Py_VISIT(self->kwargs);
    Py_VISIT(self->ans);
    Py_VISIT(self->versions);
    Py_VISIT(self->out_meta);
    Py_VISIT(self->where);
    Py_VISIT(self->claim_grad);
    return 0;
}

static int
Node_clear(NodeObject *self)
{
    Py_CLEAR(self->prim);
    for (Py_ssize_t i = 0; i < NODE_N_EDGES(self) * EDGE_LEN; i++) {
        Py_CLEAR(self->edge_fields[i]);
    }
    Py_SET_SIZE(self, 0);  /* whatever reads it from now on finds no edge, not NULL fields */
    Py_CLEAR(self->edges_tuple);
    Py_CLEAR(self->args);
    Py_CLEAR(self->kwargs);
    Py_CLEAR(self->ans);
    Py_CLEAR(self->versions);
    Py_CLEAR(self->out_meta);
    Py_CLEAR(self->where);
    Py_CLEAR(self->claim_grad);  /* NULL but in a pass, which holds the node */
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
    {"out_meta", T_OBJECT, offsetof(NodeObject, out_meta), READONLY, NULL},
    {"where", T_OBJECT, offsetof(NodeObject, where), READONLY, NULL},
    {"n_out", T_PYSSIZET, offsetof(NodeObject, n_out), READONLY, NULL},
    {"serial", T_ULONGLONG, offsetof(NodeObject, serial), READONLY, NULL},
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
    int needed = at == offsetof(NodeObject, kwargs)     ? kwargs_need_gc(value)
                 : at == offsetof(NodeObject, versions) ? versions_need_gc(value)
                                                        : gc_needed(value, 0);
    if (!PyObject_GC_IsTracked((PyObject *)self) && needed) {
        /* ndgrad replaces a field only by copies of saved arrays or an emptied one */
        PyErr_SetString(PyExc_RuntimeError,
                        "internal error: a node left out of the cyclic GC would hold a value "
                        "the GC must see (ndgrad._core.Node_set_field)");
        return -1;
    }
    PyObject **field = (PyObject **)((char *)self + at);
    Py_XSETREF(*field, Py_NewRef(value));
    return 0;
}

#define NODE_FIELD(name, doc)                                                                  \
    {#name, (getter)Node_get_field, (setter)Node_set_field, doc,                              \
     (void *)offsetof(NodeObject, name)}

/* The edges as a tuple of Edge: made on the first read (Python's readers are off the hot
 * paths), then the same tuple. A node left out of the cyclic GC leaves it out too: it holds
 * nothing but the node's own fields. */
static PyObject *
Node_get_edges(NodeObject *self, void *closure)
{
    if (self->edges_tuple != NULL) {
        return Py_NewRef(self->edges_tuple);
    }
    PyObject *edges = PyTuple_New(NODE_N_EDGES(self));
    if (edges == NULL) {
        return NULL;
    }
    int tracked = PyObject_GC_IsTracked((PyObject *)self);
    for (Py_ssize_t e = 0; e < NODE_N_EDGES(self); e++) {
        PyObject *edge = edge_tuple(self, e);
        if (edge == NULL) {
            Py_DECREF(edges);
            return NULL;
        }
        if (!tracked) {
            PyObject_GC_UnTrack(edge);
        }
        PyTuple_SET_ITEM(edges, e, edge);
    }
    if (!tracked) {
        PyObject_GC_UnTrack(edges);
    }
    self->edges_tuple = Py_NewRef(edges);
    return edges;
}

static PyGetSetDef Node_getset[] = {
    {"name", (getter)Node_get_name, NULL, "The primitive's name.", NULL},
    {"edges", (getter)Node_get_edges, NULL,
     "Its inputs that require grad (a tuple of ndgrad._graph.Edge, made when read).", NULL},
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
    .tp_basicsize = offsetof(NodeObject, edge_fields),
    .tp_itemsize = EDGE_LEN * sizeof(PyObject *),
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
/* Claims: a backward pass's hold on the nodes whose bookkeeping it keeps in their fields       */

/* A node is claimed by the first pass that counts it while no other pass holds it; a pass that
 * finds a node claimed by another (a pass inside a rule, a second thread's pass while a rule
 * releases the GIL) keeps its count and cotangent for that node in its dictionaries instead.
 * Which of the two a pass uses for a node is fixed when it counts the node and does not change
 * until it ends, since only counting claims and a pass's id is never reused; every exit of the
 * pass releases its claims (release_claims). */
typedef struct {
    unsigned long long id;  /* the pass's, never 0 */
    NodeObject **nodes;     /* the nodes claimed, a strong reference each */
    Py_ssize_t n, cap;
} Claims;

static unsigned long long next_claim_id = 1;  /* advanced under the GIL */

/* Claim ``node`` (unclaimed) for ``claims``' pass, counting the edge that reached it. */
static int
claim(Claims *claims, NodeObject *node)
{
    if (claims->n == claims->cap) {
        Py_ssize_t cap = claims->cap ? 2 * claims->cap : 64;
        NodeObject **nodes = PyMem_Realloc(claims->nodes, (size_t)cap * sizeof *nodes);
        if (nodes == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        claims->nodes = nodes;
        claims->cap = cap;
    }
    claims->nodes[claims->n++] = (NodeObject *)Py_NewRef(node);
    node->claim_id = claims->id;
    node->claim_left = 1;
    return 0;
}

/* Release every claim of ``claims`` and what its pass left in the fields; the pending
 * exception, if any, is kept. */
static void
release_claims(Claims *claims)
{
    NodeObject **nodes = claims->nodes;
    Py_ssize_t n = claims->n;
    claims->nodes = NULL;  /* detached first: a cotangent's deallocation may run any code */
    claims->n = claims->cap = 0;
    if (nodes == NULL) {
        return;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    for (Py_ssize_t i = 0; i < n; i++) {
        nodes[i]->claim_id = 0;
        nodes[i]->claim_left = 0;
        nodes[i]->claim_owned = 0;
        Py_CLEAR(nodes[i]->claim_grad);
        Py_DECREF(nodes[i]);
    }
    PyMem_Free(nodes);
    PyErr_Restore(type, value, tb);
}

/* ------------------------------------------------------------------------------------------ */
/* Small helpers                                                                               */

/* A new array's version state, the list ``[0, None]`` (a counter and no guard; see
 * _array.GradArray._version), with ``tag`` appended unless NULL: a new reference, or NULL. Made
 * for every GradArray, so the list is built directly. */
static PyObject *
new_version(PyObject *tag)
{
    PyObject *state = PyList_New(tag == NULL ? 2 : 3);
    if (state == NULL) {
        return NULL;
    }
    PyList_SET_ITEM(state, 0, Py_NewRef(int_zero));
    PyList_SET_ITEM(state, 1, Py_NewRef(Py_None));
    if (tag != NULL) {
        PyList_SET_ITEM(state, 2, Py_NewRef(tag));
    }
    return state;
}

/* The edges of a graph node: a Node's own (``*fields`` the first field of the first, in
 * NODE_EDGE's layout), or none for a leaf (a LeafNode, or any other object whose ``edges`` is
 * empty). Their number, or -1 on error. */
static Py_ssize_t
edges_of(PyObject *node, PyObject *const **fields)
{
    *fields = NULL;
    if (Node_Check(node)) {
        *fields = ((NodeObject *)node)->edge_fields;
        return NODE_N_EDGES(node);
    }
    if ((PyObject *)Py_TYPE(node) == LeafNodeType) {
        return 0;
    }
    PyObject *edges = PyObject_GetAttr(node, str_edges);
    if (edges == NULL) {
        return -1;
    }
    int empty = PyTuple_Check(edges) && PyTuple_GET_SIZE(edges) == 0;
    Py_DECREF(edges);
    if (!empty) {
        PyErr_SetString(PyExc_TypeError,
                        "a graph node with edges must be an ndgrad._core.Node");
        return -1;
    }
    return 0;
}

/* The set ``owned`` holds the ids (as id() gives them) of the cotangents only this pass holds.
 * owned_set adds (OWN), looks up (IS_OWNED) or removes (DISOWN) id(obj): 1 or 0 for a look-up,
 * 0 otherwise; -1 on error. */
enum { OWN, IS_OWNED, DISOWN };

static int
owned_set(PyObject *owned, PyObject *obj, int op)
{
    PyObject *key = PyLong_FromVoidPtr(obj);
    if (key == NULL) {
        return -1;
    }
    int rc = op == OWN        ? PySet_Add(owned, key)
             : op == IS_OWNED ? PySet_Contains(owned, key)
                              : (PySet_Discard(owned, key) < 0 ? -1 : 0);
    Py_DECREF(key);
    return rc;
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

/* _fit's most common case without its Python: the plain float or complex cotangent ``c`` of a
 * primitive that unbroadcasts (``prim.unbroadcast``), for an input of ``shape`` broadcast along
 * one leading axis only (a bias over a batch), summed over that axis as _registry.unbroadcast
 * sums it (np.add.reduce over axis 0: the same reduction). The dtype is then the input's
 * already. New reference; Py_None where the case is another (_fit takes it); NULL on error. */
static PyObject *
sum_leading_axis(PyArrayObject *c, PyObject *shape, PyObject *prim)
{
    Py_ssize_t nd = PyTuple_GET_SIZE(shape);
    if (!PyArray_CheckExact(c) || nd == 0 || PyArray_NDIM(c) != nd + 1) {
        return Py_NewRef(Py_None);
    }
    char kind = PyArray_DESCR(c)->kind;
    if (kind != 'f' && kind != 'c') {  /* an integer sum would promote */
        return Py_NewRef(Py_None);
    }
    for (Py_ssize_t i = 0; i < nd; i++) {
        Py_ssize_t n = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, i));
        if (n == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (n != PyArray_DIM(c, i + 1)) {
            return Py_NewRef(Py_None);
        }
    }
    PyObject *unbroadcast = prim_slot(prim, off_unbroadcast, str_unbroadcast);
    if (unbroadcast == NULL) {
        return NULL;
    }
    int applies = PyObject_IsTrue(unbroadcast);
    Py_DECREF(unbroadcast);
    if (applies <= 0) {
        return applies < 0 ? NULL : Py_NewRef(Py_None);
    }
    return PyArray_Sum(c, 0, NPY_NOTYPE, NULL);
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

/* The last item of ``list``, a work list of the caller's own that no other code sees, taken
 * off it: the reference moves to the caller (new reference). The list keeps its allocation,
 * as list.pop() does when it shrinks by one. ``list`` must not be empty. */
static inline PyObject *
pop_last(PyObject *list)
{
    Py_ssize_t top = PyList_GET_SIZE(list) - 1;
    PyObject *item = PyList_GET_ITEM(list, top);
    Py_SET_SIZE(list, top);
    return item;
}

PyDoc_STRVAR(collect_nodes_doc,
"collect_nodes(roots, stop) -> dict\n"
"--\n\n"
"Count, for every node reachable from ``roots``, the edges that point at it (nodes in\n"
"``stop`` are not entered).");

/* A node made before serial ``since`` (a Node, not a leaf): it cannot depend on an array made
 * from ``since`` on, since a node's edges are fixed when it is made. A pass whose targets were
 * all made from ``since`` on (a transform's tracers) does not enter it. */
static inline int
older_than(PyObject *node, unsigned long long since)
{
    return since != 0 && Node_Check(node) && ((NodeObject *)node)->serial < since;
}

/* ``since``: nodes older than it (``older_than``) are counted but not entered; 0 enters all.
 * ``ends_in_stop`` (may be NULL) is set to whether every walk down from the roots ends at a
 * node of ``stop``: no leaf outside it, no node older than ``since``. Then every node counted
 * reaches ``stop`` (following edges from any node ends somewhere), so a pass to ``stop`` needs
 * every one of them and need not work out which it needs (needed_nodes). With ``claims`` (may
 * be NULL), the nodes no other pass holds are claimed and counted in their ``claim_left``;
 * the dictionary returned counts the others. */
static PyObject *
count_edges(PyObject *roots_seq, PyObject *stop, unsigned long long since, int *ends_in_stop,
            Claims *claims)
{
    int all_stop = 1;
    int check_stop = PyObject_IsTrue(stop);
    if (check_stop < 0) {
        return NULL;
    }
    PyObject *deps = PyDict_New();
    PyObject *stack = PyList_New(0);
    PyObject *pushed = PySet_New(NULL);
    PyObject *roots = PySequence_Fast(roots_seq, "roots must be a sequence");
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
    PyObject *only_root = PyList_GET_SIZE(stack) ? PyList_GET_ITEM(stack, 0) : NULL;  /* roots holds it */
    while (PyList_GET_SIZE(stack)) {
        PyObject *node = pop_last(stack);  /* owned until the end */
        if (older_than(node, since)) {
            all_stop = 0;
            Py_DECREF(node);
            continue;
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
        PyObject *const *fields;
        Py_ssize_t n_edges = edges_of(node, &fields);
        if (n_edges < 0) {
            Py_DECREF(node);
            goto error;
        }
        if (n_edges == 0) {
            all_stop = 0;  /* a leaf outside ``stop`` */
        }
        int failed = 0;
        for (Py_ssize_t e = 0; e < n_edges && !failed; e++) {
            PyObject *parent = fields[e * EDGE_LEN + EDGE_PARENT];
            NodeObject *field = claims != NULL && Node_Check(parent) ? (NodeObject *)parent
                                                                     : NULL;
            if (field != NULL && field->claim_id == claims->id) {
                field->claim_left++;
                continue;
            }
            if (field != NULL && field->claim_id == 0) {
                failed = claim(claims, field) < 0;
            }
            else {  /* counted in ``deps``: not a Node, or another pass's */
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
            }
            if (!failed) {
                /* the roots were pushed first; with one root, the set is a comparison */
                int was_pushed = PySet_GET_SIZE(pushed) == 1 ? parent == only_root
                                                             : PySet_Contains(pushed, parent);
                failed = was_pushed < 0 || (!was_pushed && PyList_Append(stack, parent) < 0);
            }
        }
        Py_DECREF(node);
        if (failed) {
            goto error;
        }
    }
    Py_DECREF(stack);
    Py_DECREF(pushed);
    Py_DECREF(roots);
    if (ends_in_stop != NULL) {
        *ends_in_stop = check_stop && all_stop;
    }
    return deps;

error:
    Py_XDECREF(deps);
    Py_XDECREF(stack);
    Py_XDECREF(pushed);
    Py_XDECREF(roots);
    return NULL;
}

static PyObject *
collect_nodes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "collect_nodes(roots, stop)");
        return NULL;
    }
    return count_edges(args[0], args[1], 0, NULL, NULL);
}

PyDoc_STRVAR(node_serial_doc,
"node_serial()\n"
"--\n\n"
"The serial the next graph node will get: every node made from now on has one at least as\n"
"large (see recorded_since).");

static PyObject *
node_serial(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromUnsignedLongLong(next_serial);
}

PyDoc_STRVAR(recorded_since_doc,
"recorded_since(roots, since, own)\n"
"--\n\n"
"Whether every node that the nodes ``roots`` depend on was made from serial ``since`` on,\n"
"down to leaves in the set ``own``: then they depend on nothing recorded before, nor on any\n"
"other leaf. The walk stops at the first node that is not (a leaf of another array, a node\n"
"made before ``since``, or an object of another type), so it reads no more than was\n"
"recorded since.");

static PyObject *
recorded_since(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyList_Check(args[0]) || !PyAnySet_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "recorded_since(roots: list, since: int, own: set)");
        return NULL;
    }
    unsigned long long since = PyLong_AsUnsignedLongLong(args[1]);
    if (since == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *own = args[2];
    PyObject *stack = PyList_GetSlice(args[0], 0, PyList_GET_SIZE(args[0]));
    PyObject *seen = PySet_New(NULL);
    int result = stack == NULL || seen == NULL ? -1 : 1;
    while (result == 1 && PyList_GET_SIZE(stack)) {
        PyObject *node = pop_last(stack);
        if (!Node_Check(node)) {  /* a leaf: one of ours, or it came from outside */
            result = PySet_Contains(own, node);
        }
        else if (older_than(node, since)) {
            result = 0;
        }
        else {
            for (Py_ssize_t e = 0; e < NODE_N_EDGES(node) && result == 1; e++) {
                PyObject *parent = NODE_EDGE(node, e)[EDGE_PARENT];
                int was_seen = PySet_Contains(seen, parent);
                if (was_seen < 0 || (!was_seen && (PySet_Add(seen, parent) < 0
                                                   || PyList_Append(stack, parent) < 0))) {
                    result = -1;
                }
            }
        }
        Py_DECREF(node);
    }
    Py_XDECREF(stack);
    Py_XDECREF(seen);
    return result < 0 ? NULL : PyBool_FromLong(result);
}

/* Set with the array type's entry points (configure_array, module init); the pass reads them
 * too. Owned. */
static PyObject *VjpRules;    /* ndgrad._registry.VJP_RULES */
static PyObject *GetitemKey;  /* np.ndarray.__getitem__, getitem's key in VJP_RULES */

/* The state of one backward pass: all borrowed from backward_pass's locals. */
typedef struct {
    PyObject *ready;    /* list: nodes whose cotangents are complete */
    PyObject *left;     /* dict: node -> edges not yet visited (the nodes not claimed) */
    PyObject *grads;    /* dict: node -> cotangent (or list of them), where no field holds it */
    PyObject *owned;    /* set: ids of cotangents only this pass holds */
    PyObject *targets;  /* set: the nodes whose cotangents are returned (inputs=) */
    PyObject *needed;   /* set of nodes a target can be reached through, or None */
    PyObject *results;  /* dict: target node -> cotangent */
    PyObject *lift;     /* graph_array for create_graph, or None */
    PyObject *getitem;  /* the Primitive of ndarray.__getitem__ (see scatter_into) */
    unsigned long long claim_id;  /* the nodes whose bookkeeping is in their fields (Claims) */
    int has_targets, accumulate, retain_graph, inplace, inline_common, check_saved;
    Py_ssize_t inplace_bytes;  /* the smallest cotangent an in-place rule may write into */
} Pass;

/* ``node`` if this pass keeps its bookkeeping for it in its fields (it holds the node's claim),
 * else NULL. */
static inline NodeObject *
claimed(Pass *p, PyObject *node)
{
    return Node_Check(node) && ((NodeObject *)node)->claim_id == p->claim_id ? (NodeObject *)node
                                                                             : NULL;
}

/* ``node`` if its fields hold this pass's cotangent for it (claim_grad, claim_owned), or NULL
 * where ``grads`` and ``owned`` do (a node not claimed, or one with several outputs, whose list
 * _take reads). */
static inline NodeObject *
grad_field(Pass *p, PyObject *node)
{
    NodeObject *n = claimed(p, node);
    return n != NULL && n->n_out == 1 ? n : NULL;
}

/* owned_set for the cotangent ``obj`` that ``field`` (grad_field) holds or is to hold: its
 * claim_owned flag, or the pass's set where ``field`` is NULL. */
static int
owns(Pass *p, NodeObject *field, PyObject *obj, int op)
{
    if (field == NULL) {
        return owned_set(p->owned, obj, op);
    }
    if (op == IS_OWNED) {
        return field->claim_owned;
    }
    field->claim_owned = op == OWN;
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* store                                                                                       */

/* Whether ``a + b`` is a plain ndarray of ``a``'s shape and dtype: adding ``b`` into ``a`` in
 * place gives the same array as the sum. */
static int
same_array_type(PyObject *a, PyObject *b)
{
    if (!PyArray_CheckExact(a) || !PyArray_CheckExact(b)) {
        return 0;
    }
    PyArrayObject *x = (PyArrayObject *)a, *y = (PyArrayObject *)b;
    return PyArray_EquivTypes(PyArray_DESCR(x), PyArray_DESCR(y))
           && PyArray_SAMESHAPE(x, y);
}

/* Whether ``g`` is a plain float32 or float64 array of at least one element, every one of them
 * the one element 1 it shows along zero strides (a sum's cotangent spread over its input). */
static int
is_unit(PyObject *g)
{
    if (!PyArray_CheckExact(g)) {
        return 0;
    }
    PyArrayObject *a = (PyArrayObject *)g;
    int ndim = PyArray_NDIM(a);
    if (ndim == 0 || PyArray_SIZE(a) == 0 || !PyArray_ISNOTSWAPPED(a)) {
        return 0;
    }
    for (int i = 0; i < ndim; i++) {
        if (PyArray_STRIDES(a)[i] != 0) {
            return 0;
        }
    }
    switch (PyArray_TYPE(a)) {
    case NPY_DOUBLE: {
        double one;
        memcpy(&one, PyArray_DATA(a), sizeof one);  /* the data may be unaligned */
        return one == 1.0;
    }
    case NPY_FLOAT: {
        float one;
        memcpy(&one, PyArray_DATA(a), sizeof one);
        return one == 1.0f;
    }
    default:
        return 0;
    }
}

/* Add cotangent ``c`` (borrowed) to what output ``out`` of ``node`` has received so far in
 * pass ``p`` (the node's field or ``p->grads``). ``fresh``: nothing but this backward refers to
 * ``c``, so that later cotangents may be added into it in place (when ``inplace``). 0 on
 * success, -1 on error. */
static int
store_cotangent(Pass *p, PyObject *node, Py_ssize_t out, PyObject *c, int inplace, int fresh)
{
    PyObject *grads = p->grads;
    Py_ssize_t n_out = n_out_of(node);
    NodeObject *field = grad_field(p, node);
    PyObject *slots = NULL;  /* the node's list of per-output cotangents (n_out > 1), borrowed */
    PyObject *prev;          /* borrowed */
    PyObject *total;         /* new */

    if (field != NULL) {
        prev = field->claim_grad;
    }
    else if (n_out == 1) {
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
        if (field != NULL) {
            field->claim_owned = fresh && inplace;  /* the empty slot owns ``c`` or nothing */
        }
        else if (fresh && inplace && owned_set(p->owned, c, OWN) < 0) {
            Py_DECREF(total);
            return -1;
        }
    }
    else {
        int mine = inplace ? owns(p, field, prev, IS_OWNED) : 0;
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
        else if (fresh && inplace && same_array_type(c, prev)) {
            /* ``c`` is the pass's own: the sum goes into it (addition commutes exactly) */
            total = PyNumber_InPlaceAdd(c, prev);
            if (total == NULL || owns(p, field, total, OWN) < 0) {
                Py_XDECREF(total);
                return -1;
            }
        }
        else {
            total = PyNumber_Add(prev, c);
            if (total == NULL || owns(p, field, total, OWN) < 0) {
                Py_XDECREF(total);
                return -1;
            }
        }
    }
    int rc = 0;
    if (field != NULL) {
        Py_XSETREF(field->claim_grad, total);  /* ``prev`` may be ``total`` (added into) */
    }
    else if (slots == NULL) {
        rc = PyDict_SetItem(grads, node, total);
        Py_DECREF(total);
    }
    else {
        rc = PyList_SetItem(slots, out, total);  /* steals total */
    }
    return rc;
}

/* ------------------------------------------------------------------------------------------ */
/* The loop of the backward pass                                                               */

/* 1 if ``node`` is needed (no inputs= given, or a target can be reached through it). */
static inline int
is_needed(Pass *p, PyObject *node)
{
    return p->needed == Py_None ? 1 : PySet_Contains(p->needed, node);
}

/* The arguments and output ``node``'s rules read (new references): the saved ones as they
 * are (``lift`` None), or in a recorded pass each edge's argument and the output as the
 * GradArrays ``lift(array, node, out)`` ties to their nodes, as _graph._unpack lifts them. 0
 * on success, -1 on error. */
static int
lift_inputs(PyObject *lift, NodeObject *node, PyObject **args_out, PyObject **ans_out)
{
    PyObject *saved = node->args;
    if (lift == Py_None) {
        *args_out = Py_NewRef(saved);
        *ans_out = Py_NewRef(node->ans);
        return 0;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(saved);
    PyObject *args = PyTuple_New(n);
    if (args == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(args, i, Py_NewRef(PyTuple_GET_ITEM(saved, i)));
    }
    for (Py_ssize_t e = 0; e < NODE_N_EDGES(node); e++) {
        PyObject *const *edge = NODE_EDGE(node, e);
        Py_ssize_t slot = PyLong_AsSsize_t(edge[EDGE_SLOT]);
        if (slot == -1 && PyErr_Occurred()) {
            Py_DECREF(args);
            return -1;
        }
        if (slot < 0 || slot >= n) {
            continue;
        }
        PyObject *a = PyTuple_GET_ITEM(args, slot);
        if (a == Py_None || (PyObject *)Py_TYPE(a) == ArrayMetaType) {
            continue;  /* not kept, or kept as its shape and dtype only */
        }
        PyObject *lifted = PyObject_CallFunctionObjArgs(
            lift, a, edge[EDGE_PARENT], edge[EDGE_OUT], NULL);
        if (lifted == NULL) {
            Py_DECREF(args);
            return -1;
        }
        Py_SETREF(PyTuple_GET_ITEM(args, slot), lifted);  /* args is new: nobody else sees it */
    }
    PyObject *ans = node->ans;
    if (ans == Py_None) {
        ans = Py_NewRef(ans);
    }
    else {
        PyObject *zero = PyLong_FromLong(0);
        ans = zero == NULL ? NULL
                           : PyObject_CallFunctionObjArgs(lift, ans, (PyObject *)node, zero, NULL);
        Py_XDECREF(zero);
        if (ans == NULL) {
            Py_DECREF(args);
            return -1;
        }
    }
    *args_out = args;
    *ans_out = ans;
    return 0;
}

/* Whether ``key`` is a basic index (ints, slices, ``...``, ``None``, or a tuple of them): one
 * that names each position at most once and whose result is a view (or, all ints, a scalar). */
static int
is_basic_key(PyObject *key)
{
    if (!PyTuple_CheckExact(key)) {
        return PyLong_CheckExact(key) || PySlice_Check(key) || key == Py_Ellipsis
               || key == Py_None;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(key); i++) {
        PyObject *k = PyTuple_GET_ITEM(key, i);
        if (!(PyLong_CheckExact(k) || PySlice_Check(k) || k == Py_Ellipsis || k == Py_None)) {
            return 0;
        }
    }
    return 1;
}

/* ``a[key]``'s rule (a zeros array of ``a``'s shape with ``g`` at ``key``) added to the
 * cotangent its parent has received so far, without the zeros: ``g`` is added at ``key`` into
 * that cotangent when only this pass holds it (a sum the pass allocated) and ``key`` is basic
 * (no position twice), so the result is the same sum, element for element. A loop that reads
 * ``x[i]`` of a length-n array then costs O(1) per read in backward, not O(n). 1 when done, 0
 * when it does not apply (the rule runs), -1 on error. */
static int
scatter_into(Pass *p, PyObject *const *edge, PyObject *g, PyObject *key)
{
    PyObject *parent = edge[EDGE_PARENT];
    if (n_out_of(parent) != 1 || !PyArray_CheckExact(g) || !is_basic_key(key)) {
        return 0;
    }
    NodeObject *field = grad_field(p, parent);
    PyObject *prev = field != NULL ? field->claim_grad : PyDict_GetItemWithError(p->grads, parent);
    if (prev == NULL) {  /* borrowed */
        return PyErr_Occurred() ? -1 : 0;
    }
    if (!PyArray_CheckExact(prev)
        || !PyArray_EquivTypes(PyArray_DESCR((PyArrayObject *)prev),
                               PyArray_DESCR((PyArrayObject *)g))) {
        return 0;
    }
    int mine = owns(p, field, prev, IS_OWNED);
    int shaped = mine > 0 ? same_shape((PyArrayObject *)prev, edge[EDGE_SHAPE])
                          : mine;
    if (shaped <= 0) {
        return shaped;
    }
    PyObject *part = PyObject_GetItem(prev, key);  /* a view of prev, or a scalar */
    if (part == NULL) {
        return -1;
    }
    int rc = 0;
    if (PyArray_Check(part)) {
        if (PyArray_SAMESHAPE((PyArrayObject *)part, (PyArrayObject *)g)) {
            PyObject *sum = PyNumber_InPlaceAdd(part, g);  /* writes into prev's memory */
            rc = sum == NULL ? -1 : 1;
            Py_XDECREF(sum);
        }
    }
    else if (PyArray_NDIM((PyArrayObject *)g) == 0) {
        PyObject *sum = PyNumber_Add(part, g);
        rc = sum == NULL ? -1 : PyObject_SetItem(prev, key, sum) < 0 ? -1 : 1;
        Py_XDECREF(sum);
    }
    Py_DECREF(part);
    return rc;
}

/* The common node (one rule per argument, no where=, plain arrays): each edge's rule runs
 * here, on ``g`` (borrowed). ``g_free``: only this call refers to ``g`` and ``rules`` are the
 * node's in-place rules, which may write into it (see Primitive.inplace_rules). 0 on success,
 * -1 on error. */
static int
run_common(Pass *p, NodeObject *node, PyObject *g, PyObject *rules, int g_free)
{
    /* Strong references for the duration: a rule may (through a hook) replace the fields.
     * Under create_graph the rules read the saved arrays lifted (lift_inputs). */
    PyObject *args, *ans;
    if (lift_inputs(p->lift, node, &args, &ans) < 0) {
        return -1;
    }
    PyObject *kwargs = Py_NewRef(node->kwargs);
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

    /* the edges are the node's, fixed when it was made (the caller holds the node) */
    for (Py_ssize_t e = 0; e < NODE_N_EDGES(node); e++) {
        PyObject *const *edge = NODE_EDGE(node, e);
        PyObject *flat = edge[EDGE_FLAT];
        PyObject *parent = edge[EDGE_PARENT];
        Py_ssize_t slot = PyLong_AsSsize_t(edge[EDGE_SLOT]);
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
        if (prim == p->getitem && slot == 0 && flat == Py_None && p->inplace && n_args == 2) {
            int done_here = scatter_into(p, edge, g, PyTuple_GET_ITEM(args, 1));
            if (done_here < 0) {
                goto done;
            }
            if (done_here) {
                continue;
            }
        }
        PyObject *c;  /* new */
        if (flat == Py_None) {
            c = PyObject_VectorcallDict(rule, stack, n_args + 2, call_kwargs);
        }
        else {
            PyObject *whole;  /* borrowed from by_slot */
            PyObject *key = edge[EDGE_SLOT];
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
        if (p->lift == Py_None ? !PyArray_CheckExact(c) : !PyArray_Check(c)) {
            /* np.asarray: a NumPy scalar or Python number becomes a 0-d base-class array (a
             * GradArray, under create_graph, is kept: it carries the recorded graph) */
            Py_SETREF(c, PyArray_FromAny(c, NULL, 0, 0, NPY_ARRAY_ENSUREARRAY, NULL));
            if (c == NULL) {
                goto done;
            }
        }
        int shaped = same_shape((PyArrayObject *)c, edge[EDGE_SHAPE]);
        if (shaped < 0) {
            Py_DECREF(c);
            goto done;
        }
        PyObject *dtype = edge[EDGE_DTYPE];
        PyObject *descr = (PyObject *)PyArray_DESCR((PyArrayObject *)c);
        int typed = descr == dtype ? 1 : PyObject_RichCompareBool(descr, dtype, Py_EQ);
        if (typed < 0) {
            Py_DECREF(c);
            goto done;
        }
        if (!shaped && typed) {
            PyObject *summed = sum_leading_axis((PyArrayObject *)c, edge[EDGE_SHAPE], prim);
            if (summed == NULL) {
                Py_DECREF(c);
                goto done;
            }
            if (summed != Py_None) {
                Py_SETREF(c, summed);
                shaped = 1;
            }
            else {
                Py_DECREF(summed);
            }
        }
        if (!shaped || !typed) {
            PyObject *as_tuple = edge_tuple(node, e);
            Py_SETREF(c, as_tuple == NULL ? NULL : PyObject_CallFunctionObjArgs(Fit, c, as_tuple,
                                                                               prim, NULL));
            Py_XDECREF(as_tuple);
            if (c == NULL) {
                goto done;
            }
        }
        /* Only this loop refers to ``c`` (or ``c`` is the free ``g`` an in-place rule wrote
         * into, which visit() holds too): later cotangents may be added into it in place. */
        int fresh = PyArray_CheckExact(c) && PyArray_BASE((PyArrayObject *)c) == NULL
                    && (Py_REFCNT(c) == 1 || (g_free && c == g && Py_REFCNT(c) == 2))
                    && PyArray_ISWRITEABLE((PyArrayObject *)c);
        Py_ssize_t out = PyLong_AsSsize_t(edge[EDGE_OUT]);
        if (out == -1 && PyErr_Occurred()) {
            Py_DECREF(c);
            goto done;
        }
        int stored = store_cotangent(p, parent, out, c, p->inplace, fresh);
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
                           : store_cotangent(p, parent, out, c, p->inplace, 0);
        Py_DECREF(pair);
        if (rc < 0) {
            break;
        }
    }
    Py_DECREF(iter);
    return PyErr_Occurred() ? -1 : 0;
}

static PyObject *hold_fp(PyObject *hold);  /* (the memory guards' section) */
static int fingerprints_intact(PyObject *node, PyObject *versions);  /* (the same) */

/* Whether the saved arrays need _check_versions before use: the version of one of them moved
 * (a write ndgrad saw: the node may have a copy to take instead), one has a seal to confirm or
 * is a Held's, or a fingerprint no longer matches. Otherwise that function would keep every
 * entry as it is. The fingerprints are compared here as it compares them (its common case,
 * without a Python call per node). ``versions`` holds (counter, seen, slot, hold) per saved
 * array. 1, 0, or -1 on error. */
static int
versions_to_check(Pass *p, NodeObject *node)
{
    PyObject *versions = node->versions;
    Py_ssize_t n = PyTuple_GET_SIZE(versions);
    if (n % 4 != 0) {
        return 1;
    }
    int fingerprints = 0;
    for (Py_ssize_t i = 0; i < n; i += 4) {
        PyObject *now = PySequence_GetItem(PyTuple_GET_ITEM(versions, i), 0);
        if (now == NULL) {
            return -1;
        }
        int moved = PyObject_RichCompareBool(now, PyTuple_GET_ITEM(versions, i + 1), Py_NE);
        Py_DECREF(now);
        if (moved != 0) {
            return moved;
        }
        PyObject *hold = PyTuple_GET_ITEM(versions, i + 3);
        PyObject *fp = p->check_saved ? hold_fp(hold) : NULL;  /* borrowed */
        if (fp != NULL) {
            if (fp != Py_None) {
                if (!PyArray_CheckExact(fp)) {  /* SEALED_MARK: _graph.sealed decides */
                    return 1;
                }
                fingerprints = 1;
            }
        }
        else if (p->check_saved && hold != Py_None) {  /* a Held */
            PyObject *fp = PyObject_GetAttr(hold, str_fp);
            if (fp == NULL) {
                return -1;
            }
            Py_DECREF(fp);
            if (fp != Py_None) {
                return 1;
            }
        }
    }
    if (!fingerprints) {
        return 0;
    }
    int intact = fingerprints_intact((PyObject *)node, versions);
    return intact < 0 ? -1 : !intact;
}

/* Whether an edge of ``node`` reaches its argument inside a sequence (``Edge.flat``). */
static int
has_paths(NodeObject *node)
{
    for (Py_ssize_t e = 0; e < NODE_N_EDGES(node); e++) {
        if (NODE_EDGE(node, e)[EDGE_FLAT] != Py_None) {
            return 1;
        }
    }
    return 0;
}

/* Visit ``node`` (borrowed): take its cotangent, run its rules, store what they return.
 * 0 on success (its parents are to be released), 1 for a target or a leaf (they have none to
 * release), 2 for a node through which no target is reached (a pass with inputs= neither
 * enters it nor frees what it saved: it is some other graph's, the history of an array that
 * a transform's function closes over), -1 on error. */
static int
visit(Pass *p, PyObject *node)
{
    int need = is_needed(p, node);
    if (need <= 0) {
        return need < 0 ? -1 : 2;
    }
    PyObject *g;  /* new, or NULL for no cotangent */
    NodeObject *field = grad_field(p, node);
    if (field != NULL) {
        g = field->claim_grad;  /* taken: the field is left empty, and owns nothing */
        field->claim_grad = NULL;
        field->claim_owned = 0;
    }
    else if (n_out_of(node) == 1) {
        if ((g = dict_pop(p->grads, node)) == NULL && PyErr_Occurred()) {
            return -1;
        }
        if (g != NULL && PySet_GET_SIZE(p->owned) && owned_set(p->owned, g, DISOWN) < 0) {
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
    need = g != NULL;
    if (need && (PyObject *)Py_TYPE(node) == LeafNodeType) {
        int rc = 0;
        if (p->accumulate) {
            /* Only this pass holds ``g`` (the reference taken from grads): it may become the
             * leaf's .grad without a copy. That common case of _accumulate_leaf (a first
             * gradient, a plain array owning its writable memory) is done here, the others
             * there. */
            int stealable = Py_REFCNT(g) == 1;
            PyObject *array = NULL;  /* borrowed */
            if (stealable && GradArrayType != NULL && PyArray_CheckExact(g)
                && PyArray_BASE((PyArrayObject *)g) == NULL
                && PyArray_ISWRITEABLE((PyArrayObject *)g)) {
                PyObject *ref = FIELD(node, off_leaf_ref);
                array = ref != NULL && PyWeakref_CheckRef(ref) ? PyWeakref_GET_OBJECT(ref) : NULL;
            }
            if (array != NULL && Py_TYPE(array) == GradArrayType
                && FIELD(array, off_grad) == Py_None) {
                Py_SETREF(FIELD(array, off_grad), Py_NewRef(g));
            }
            else {
                PyObject *res = PyObject_CallFunctionObjArgs(
                    AccumulateLeaf, node, g, stealable ? Py_True : Py_False, NULL);
                rc = res == NULL ? -1 : 0;
                Py_XDECREF(res);
            }
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
            if (common && p->lift != Py_None) {
                /* recorded: one output, and no argument inside a sequence (whose lifting
                 * _graph._unpack does) */
                common = n_out_of(node) == 1 && !has_paths(n);
            }
            if (common) {
                PyObject *argnum_rule = prim_slot(n->prim, off_argnum_rule, str_argnum_rule);
                if (argnum_rule == NULL) {
                    rc = -1;
                }
                else {
                    common = argnum_rule == Py_None;
                    Py_DECREF(argnum_rule);
                }
            }
            if (rc == 0 && common) {
                /* A large cotangent nobody else holds, read by one rule: that rule's in-place
                 * form, if it has one, may write into it instead of allocating. */
                int g_free = p->inplace && PyArray_CheckExact(g) && Py_REFCNT(g) == 1
                             && PyArray_NBYTES((PyArrayObject *)g) >= p->inplace_bytes
                             && PyArray_BASE((PyArrayObject *)g) == NULL
                             && PyArray_ISWRITEABLE((PyArrayObject *)g)
                             && NODE_N_EDGES(n) == 1;
                if (g_free) {
                    rules = prim_slot(n->prim, off_inplace_rules, str_inplace_rules);
                    g_free = rules != NULL && PyTuple_Check(rules);
                    if (!g_free) {
                        Py_CLEAR(rules);
                        rc = PyErr_Occurred() ? -1 : 0;
                    }
                }
                /* A large spread 1 (a sum's cotangent): the rules' forms for it, if the
                 * primitive has them, return the factor that ``g *`` would copy. */
                if (rules == NULL && rc == 0 && p->inplace && is_unit(g)
                    && PyArray_NBYTES((PyArrayObject *)g) >= p->inplace_bytes) {
                    rules = prim_slot(n->prim, off_unit_rules, str_unit_rules);
                    if (rules != NULL && !PyTuple_Check(rules)) {
                        Py_CLEAR(rules);
                    }
                    rc = rules == NULL && PyErr_Occurred() ? -1 : 0;
                }
                if (rules == NULL && rc == 0) {
                    rules = prim_slot(n->prim, off_rules, str_rules);
                    if (rules == NULL) {
                        rc = -1;
                    }
                    else if (!PyTuple_Check(rules)) {
                        PyErr_SetString(PyExc_TypeError, "Primitive.rules must be a tuple");
                        rc = -1;
                    }
                }
                if (rc == 0) {
                    rc = run_common(p, n, g, rules, g_free);
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
    PyObject *const *fields;
    Py_ssize_t n_edges = edges_of(node, &fields);
    if (n_edges < 0) {
        return -1;
    }
    int rc = 0;
    for (Py_ssize_t e = 0; e < n_edges && rc == 0; e++) {
        PyObject *parent = fields[e * EDGE_LEN + EDGE_PARENT];
        NodeObject *field = claimed(p, parent);
        if (field != NULL) {
            if (--field->claim_left == 0) {
                rc = PyList_Append(p->ready, parent);
            }
            continue;
        }
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
    return rc;
}

/* The loop of the pass: visit the nodes in ``ready`` and those they complete, in Kahn's order,
 * running their rules and storing the cotangents in ``grads``. 0 on success, -1 on error. */
static int
run_pass(Pass *pass)
{
    Pass p = *pass;
    while (PyList_GET_SIZE(p.ready)) {
        PyObject *node = pop_last(p.ready);
        int rc = visit(&p, node);
        if (rc == 0) {
            rc = release_parents(&p, node);
            if (rc == 0 && !p.retain_graph && Node_Check(node)) {
                release_node((NodeObject *)node);
            }
        }
        Py_DECREF(node);
        if (rc < 0) {
            return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------------------------ */
/* backward: the whole pass                                                                    */

/* ``deps`` with the counts of the nodes ``claims`` holds added: every count, for kahn_order.
 * New dict. */
static PyObject *
with_claimed(PyObject *deps, Claims *claims)
{
    PyObject *counts = PyDict_Copy(deps);
    for (Py_ssize_t i = 0; counts != NULL && i < claims->n; i++) {
        PyObject *count = PyLong_FromSsize_t(claims->nodes[i]->claim_left);
        if (count == NULL || PyDict_SetItem(counts, (PyObject *)claims->nodes[i], count) < 0) {
            Py_CLEAR(counts);
        }
        Py_XDECREF(count);
    }
    return counts;
}

static PyObject *GradEnabledVarForPass;  /* _graph._grad_enabled (owned) */
static PyObject *ScopeDepthVar;          /* _graph.scope_depth (owned) */
static PyObject *EmptyFrozenSet;         /* frozenset() */

/* Kahn's order of the graph above ``roots`` (a list of distinct nodes, borrowed): a node comes
 * after every node that sends it a cotangent; nodes in ``stop`` are not entered. ``deps``
 * counts the edges into each node (collect_nodes). With ``meta`` (a dict, or NULL), the shape
 * and dtype of every node output an edge reads go into it: ``meta[(parent, out)] = (shape,
 * dtype)``. New list. */
static PyObject *
kahn_order(PyObject *roots, PyObject *deps, PyObject *stop, PyObject *meta,
           unsigned long long since)
{
    PyObject *left = PyDict_Copy(deps);
    PyObject *ready = PyList_New(0);
    PyObject *order = PyList_New(0);
    if (left == NULL || ready == NULL || order == NULL) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(roots); i++) {
        PyObject *root = PyList_GET_ITEM(roots, i);
        PyObject *count = PyDict_GetItemWithError(left, root);
        if (count == NULL && PyErr_Occurred()) {
            goto error;
        }
        if ((count == NULL || PyLong_AsSsize_t(count) == 0) && PyList_Append(ready, root) < 0) {
            goto error;
        }
    }
    while (PyList_GET_SIZE(ready)) {
        PyObject *node = pop_last(ready);
        int rc = 0;
        if (older_than(node, since)) {  /* neither listed nor entered */
            Py_DECREF(node);
            continue;
        }
        rc = rc < 0 ? rc : PyList_Append(order, node);
        int stopped = rc < 0 ? -1 : PySet_Contains(stop, node);
        if (stopped != 0) {
            Py_DECREF(node);
            if (stopped < 0) {
                goto error;
            }
            continue;
        }
        PyObject *const *fields;
        Py_ssize_t n_edges = edges_of(node, &fields);
        Py_DECREF(node);  /* ``order`` holds it */
        if (n_edges < 0) {
            goto error;
        }
        for (Py_ssize_t e = 0; e < n_edges && rc == 0; e++) {
            PyObject *const *edge = fields + e * EDGE_LEN;
            PyObject *parent = edge[EDGE_PARENT];
            if (meta != NULL) {
                PyObject *key = PyTuple_Pack(2, parent, edge[EDGE_OUT]);
                PyObject *value = PyTuple_Pack(2, edge[EDGE_SHAPE], edge[EDGE_DTYPE]);
                rc = key == NULL || value == NULL || PyDict_SetItem(meta, key, value) < 0 ? -1 : 0;
                Py_XDECREF(key);
                Py_XDECREF(value);
                if (rc < 0) {
                    break;
                }
            }
            PyObject *count = PyDict_GetItemWithError(left, parent);
            if (count == NULL) {
                if (!PyErr_Occurred()) {
                    PyErr_SetObject(PyExc_KeyError, parent);
                }
                rc = -1;
                break;
            }
            Py_ssize_t now = PyLong_AsSsize_t(count) - 1;
            PyObject *value = PyLong_FromSsize_t(now);
            rc = value == NULL || PyDict_SetItem(left, parent, value) < 0 ? -1 : 0;
            Py_XDECREF(value);
            if (rc == 0 && now == 0) {
                rc = PyList_Append(ready, parent);
            }
        }
        if (rc < 0) {
            goto error;
        }
    }
    Py_DECREF(left);
    Py_DECREF(ready);
    return order;

error:
    Py_XDECREF(left);
    Py_XDECREF(ready);
    Py_XDECREF(order);
    return NULL;
}

/* The nodes through which a target can be reached (every other node is skipped): new set. */
static PyObject *
needed_nodes(PyObject *order, PyObject *targets)
{
    PyObject *needed = PySet_New(targets);
    if (needed == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = PyList_GET_SIZE(order) - 1; i >= 0; i--) {  /* parents first */
        PyObject *node = PyList_GET_ITEM(order, i);
        int known = PySet_Contains(needed, node);
        if (known != 0) {
            if (known < 0) {
                goto error;
            }
            continue;
        }
        PyObject *const *fields;
        Py_ssize_t n_edges = edges_of(node, &fields);
        if (n_edges < 0) {
            goto error;
        }
        int rc = 0;
        for (Py_ssize_t e = 0; e < n_edges; e++) {
            PyObject *parent = fields[e * EDGE_LEN + EDGE_PARENT];
            rc = PySet_Contains(needed, parent);
            if (rc != 0) {
                rc = rc < 0 ? rc : PySet_Add(needed, node);
                break;
            }
        }
        if (rc < 0) {
            goto error;
        }
    }
    return needed;

error:
    Py_DECREF(needed);
    return NULL;
}

/* The node of each (node, out) pair of ``pairs``: new list (``distinct``: each node once, in
 * order of first appearance), or NULL. */
static PyObject *
pair_nodes(PyObject *pairs, int distinct)
{
    PyObject *seen = distinct ? PySet_New(NULL) : NULL;
    PyObject *nodes = PyList_New(0);
    if (nodes == NULL || (distinct && seen == NULL)) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(pairs); i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(pairs, i);
        if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
            PyErr_SetString(PyExc_TypeError, "backward: roots and inputs are (node, out) pairs");
            goto error;
        }
        PyObject *node = PyTuple_GET_ITEM(pair, 0);
        if (distinct) {
            int known = PySet_Contains(seen, node);
            if (known < 0 || (!known && PySet_Add(seen, node) < 0)) {
                goto error;
            }
            if (known) {
                continue;
            }
        }
        if (PyList_Append(nodes, node) < 0) {
            goto error;
        }
    }
    Py_XDECREF(seen);
    return nodes;

error:
    Py_XDECREF(seen);
    Py_XDECREF(nodes);
    return NULL;
}

PyDoc_STRVAR(forward_order_doc,
"forward_order(roots, stop, since, meta) -> (order, consumers, free)\n"
"--\n\n"
"The nodes a forward pass from the nodes in the set ``stop`` (its inputs) to ``roots`` (a list\n"
"of distinct nodes) visits, parents first: the nodes of ``stop`` that a root depends on, and\n"
"every node above the roots that depends on one of them; no other node has a tangent. A node\n"
"made before serial ``since`` (0: no such bound) cannot depend on the inputs when they were\n"
"all made from ``since`` on, and is not entered: a transform's pass reads what it recorded,\n"
"not the history of the arrays its function closes over. ``consumers`` counts the edges into\n"
"each node from the nodes entered (exact for every listed node: whatever reads a listed node\n"
"is listed). The shape and dtype of every node output an edge reads go into the dict ``meta``,\n"
"keyed ``(node, out)``. ``free``: the set of nodes entered whose values depend on nothing but\n"
"the leaves of ``stop`` (a transform's own tracers): a recorded push reads their saved arrays\n"
"plain, since nothing outside the transform can differentiate through them.");

static PyObject *
forward_order(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyList_Check(args[0]) || !PyAnySet_Check(args[1])
        || !PyDict_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "forward_order(roots: list, stop: set, since: int, meta: dict)");
        return NULL;
    }
    PyObject *roots = args[0], *stop = args[1];
    unsigned long long since = PyLong_AsUnsignedLongLong(args[2]);
    if (since == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    PyObject *order = NULL, *reached = NULL, *listed = NULL, *free = NULL, *result = NULL;
    PyObject *deps = count_edges(roots, stop, since, NULL, NULL);
    order = deps == NULL ? NULL : kahn_order(roots, deps, stop, args[3], since);
    reached = order == NULL ? NULL : PySet_New(NULL);
    free = reached == NULL ? NULL : PySet_New(NULL);
    listed = free == NULL ? NULL : PyList_New(0);
    if (listed == NULL) {
        goto done;
    }
    for (Py_ssize_t i = PyList_GET_SIZE(order) - 1; i >= 0; i--) {  /* parents first */
        PyObject *node = PyList_GET_ITEM(order, i);
        int keep = PySet_Contains(stop, node);
        /* free: a leaf of stop, or an entered node all of whose parents are free (an old
         * node's parents are not listed, another leaf is not free, nor a node of stop) */
        int is_free = keep > 0 && !Node_Check(node);
        if (keep == 0) {  /* entered: kept when an edge reads a kept node */
            PyObject *const *fields;
            Py_ssize_t n_edges = edges_of(node, &fields);
            if (n_edges < 0) {
                goto done;
            }
            is_free = Node_Check(node);
            for (Py_ssize_t e = 0; e < n_edges && keep >= 0; e++) {
                PyObject *parent = fields[e * EDGE_LEN + EDGE_PARENT];
                if (keep == 0) {
                    keep = PySet_Contains(reached, parent);
                }
                if (is_free && keep >= 0) {
                    is_free = PySet_Contains(free, parent);
                    keep = is_free < 0 ? -1 : keep;
                }
            }
        }
        if (keep < 0 || (keep && (PySet_Add(reached, node) < 0
                                  || PyList_Append(listed, node) < 0))
            || (is_free && PySet_Add(free, node) < 0)) {
            goto done;
        }
    }
    result = PyTuple_Pack(3, listed, deps, free);
done:
    Py_XDECREF(deps);
    Py_XDECREF(order);
    Py_XDECREF(reached);
    Py_XDECREF(free);
    Py_XDECREF(listed);
    return result;
}

PyDoc_STRVAR(backward_pass_doc,
"backward_pass(roots, root_grads, inputs, retain_graph, create_graph, lift, since,\n"
"              check_saved, inline_common, inplace_bytes)\n"
"--\n\n"
"_graph.backward: see its docstring. ``check_saved``, ``inline_common`` and ``inplace_bytes``\n"
"(the smallest cotangent an in-place rule may write into) are the module's switches, read by\n"
"the caller on every call.");

static PyObject *
backward_pass(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 10) {
        PyErr_SetString(PyExc_TypeError, "backward_pass takes 10 arguments");
        return NULL;
    }
    Py_ssize_t inplace_bytes = PyLong_AsSsize_t(args[9]);
    if (inplace_bytes == -1 && PyErr_Occurred()) {
        return NULL;
    }
    unsigned long long since = PyLong_AsUnsignedLongLong(args[6]);
    if (since == (unsigned long long)-1 && PyErr_Occurred()) {
        return NULL;
    }
    if (LeafNodeType == NULL || GradEnabledVarForPass == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ndgrad._core.configure() was not called");
        return NULL;
    }
    PyObject *inputs = args[2], *lift = args[5];
    int flags[4];
    for (int i = 0; i < 4; i++) {
        flags[i] = PyObject_IsTrue(args[i == 0 ? 3 : i == 1 ? 4 : i + 5]);
        if (flags[i] < 0) {
            return NULL;
        }
    }
    int retain_graph = flags[0], create_graph = flags[1];
    if (!create_graph) {
        lift = Py_None;  /* the rules run on the saved plain arrays */
    }
    else if (lift == Py_None) {
        PyErr_SetString(PyExc_TypeError,
                        "backward(create_graph=True) needs lift=, the array type's graph_array");
        return NULL;
    }
    PyObject *roots = NULL, *grads_in = NULL, *input_pairs = NULL, *targets = NULL;
    PyObject *root_nodes = NULL, *distinct_roots = NULL, *deps = NULL, *order = NULL;
    PyObject *needed = NULL, *grads = NULL, *owned = NULL, *results = NULL, *ready = NULL;
    PyObject *grad_token = NULL, *scope_token = NULL, *result = NULL;
    int all_needed = 0;  /* every node counted reaches an input (count_edges) */
    Claims claims = {.id = next_claim_id++};

    roots = PySequence_Fast(args[0], "backward: roots must be a sequence");
    grads_in = PySequence_Fast(args[1], "backward: root_grads must be a sequence");
    if (roots == NULL || grads_in == NULL) {
        goto done;
    }
    if (PySequence_Fast_GET_SIZE(roots) != PySequence_Fast_GET_SIZE(grads_in)) {
        PyErr_SetString(PyExc_ValueError, "backward: one root grad per root");
        goto done;
    }
    if (inputs == Py_None) {
        targets = Py_NewRef(EmptyFrozenSet);
        since = 0;  /* every node may lead to a leaf to accumulate into */
    }
    else {
        input_pairs = PySequence_Fast(inputs, "backward: inputs must be a sequence");
        PyObject *nodes = input_pairs == NULL ? NULL : pair_nodes(input_pairs, 0);
        targets = nodes == NULL ? NULL : PySet_New(nodes);
        Py_XDECREF(nodes);
        if (targets == NULL) {
            goto done;
        }
    }
    root_nodes = pair_nodes(roots, 0);
    distinct_roots = root_nodes == NULL ? NULL : pair_nodes(roots, 1);
    deps = distinct_roots == NULL ? NULL
                                  : count_edges(root_nodes, targets, since, &all_needed, &claims);
    if (deps == NULL) {
        goto done;
    }
    if (inputs != Py_None && !all_needed) {
        PyObject *counts = with_claimed(deps, &claims);
        order = counts == NULL ? NULL : kahn_order(distinct_roots, counts, targets, NULL, since);
        Py_XDECREF(counts);
        needed = order == NULL ? NULL : needed_nodes(order, targets);
        if (needed == NULL) {
            goto done;
        }
    }
    grads = PyDict_New();
    owned = PySet_New(NULL);
    results = PyDict_New();
    ready = PyList_New(0);
    if (grads == NULL || owned == NULL || results == NULL || ready == NULL) {
        goto done;
    }
    /* borrowed: the registry holds its primitives for good (None before configure_array) */
    PyObject *getitem = VjpRules == NULL ? NULL : PyDict_GetItemWithError(VjpRules, GetitemKey);
    if (getitem == NULL && PyErr_Occurred()) {
        goto done;
    }
    Pass p = {
        .ready = ready, .left = deps, .grads = grads, .owned = owned, .targets = targets,
        .needed = needed != NULL ? needed : Py_None, .results = results, .lift = lift,
        .has_targets = PySet_GET_SIZE(targets) != 0, .accumulate = inputs == Py_None,
        .retain_graph = retain_graph, .inplace = !create_graph,
        .inline_common = flags[3], .check_saved = flags[2],
        .inplace_bytes = inplace_bytes, .getitem = getitem, .claim_id = claims.id,
    };
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(roots); i++) {
        PyObject *pair = PySequence_Fast_GET_ITEM(roots, i);
        Py_ssize_t out = PyLong_AsSsize_t(PyTuple_GET_ITEM(pair, 1));
        if ((out == -1 && PyErr_Occurred())
            || store_cotangent(&p, PyTuple_GET_ITEM(pair, 0), out,
                               PySequence_Fast_GET_ITEM(grads_in, i), 0, 0) < 0) {
            goto done;
        }
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(distinct_roots); i++) {
        PyObject *root = PyList_GET_ITEM(distinct_roots, i);
        NodeObject *field = claimed(&p, root);
        Py_ssize_t left = 0;  /* a root no other root reaches is counted nowhere */
        if (field != NULL) {
            left = field->claim_left;
        }
        else {
            PyObject *count = PyDict_GetItemWithError(deps, root);
            if (count == NULL && PyErr_Occurred()) {
                goto done;
            }
            left = count == NULL ? 0 : PyLong_AsSsize_t(count);
        }
        if (left == 0 && PyList_Append(ready, root) < 0) {
            goto done;
        }
    }
    /* Grad mode is create_graph during the pass; the rules are ndgrad's own NumPy code, not
     * the user's, so no conversion scope applies to them. */
    grad_token = PyContextVar_Set(GradEnabledVarForPass, create_graph ? Py_True : Py_False);
    if (grad_token == NULL) {
        goto done;
    }
    /* Outside every scope (a tape backward(), a transform's pass after its function returned)
     * the depth is 0 already: setting and resetting a context variable costs about 2,000
     * instructions, a fifth of a small pass's own bookkeeping. */
    PyObject *depth;
    if (PyContextVar_Get(ScopeDepthVar, NULL, &depth) < 0) {
        goto done;
    }
    long level = depth == NULL ? 0 : PyLong_AsLong(depth);
    Py_XDECREF(depth);
    if (level == -1 && PyErr_Occurred()) {
        goto done;
    }
    if (level != 0) {
        scope_token = PyContextVar_Set(ScopeDepthVar, int_zero);
        if (scope_token == NULL) {
            goto done;
        }
    }
    int rc = run_pass(&p);
    if (rc == 0 && inputs != Py_None) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(input_pairs);
        PyObject *picked = PyList_New(n);
        for (Py_ssize_t i = 0; picked != NULL && i < n; i++) {
            PyObject *pair = PySequence_Fast_GET_ITEM(input_pairs, i);
            PyObject *node = PyTuple_GET_ITEM(pair, 0);
            PyObject *g = PyDict_GetItemWithError(results, node);  /* borrowed */
            PyObject *item;
            if (g == NULL && PyErr_Occurred()) {
                item = NULL;
            }
            else if (g == NULL || g == Py_None || n_out_of(node) == 1) {
                item = Py_NewRef(g != NULL ? g : Py_None);
            }
            else {
                item = PyObject_GetItem(g, PyTuple_GET_ITEM(pair, 1));
            }
            if (item == NULL) {
                Py_CLEAR(picked);
                break;
            }
            PyList_SET_ITEM(picked, i, item);
        }
        result = picked;
    }
    else if (rc == 0) {
        result = Py_NewRef(Py_None);
    }

done:
    release_claims(&claims);  /* keeps a pending exception */
    if (scope_token != NULL || grad_token != NULL) {
        /* restore the context whatever happened, keeping a pending exception */
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (scope_token != NULL && PyContextVar_Reset(ScopeDepthVar, scope_token) < 0) {
            PyErr_WriteUnraisable(ScopeDepthVar);
        }
        if (grad_token != NULL && PyContextVar_Reset(GradEnabledVarForPass, grad_token) < 0) {
            PyErr_WriteUnraisable(GradEnabledVarForPass);
        }
        PyErr_Restore(type, value, tb);
    }
    Py_XDECREF(scope_token);
    Py_XDECREF(grad_token);
    Py_XDECREF(roots);
    Py_XDECREF(grads_in);
    Py_XDECREF(input_pairs);
    Py_XDECREF(targets);
    Py_XDECREF(root_nodes);
    Py_XDECREF(distinct_roots);
    Py_XDECREF(deps);
    Py_XDECREF(order);
    Py_XDECREF(needed);
    Py_XDECREF(grads);
    Py_XDECREF(owned);
    Py_XDECREF(results);
    Py_XDECREF(ready);
    if (result != NULL && PyErr_Occurred()) {
        Py_CLEAR(result);
    }
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* Sanctioned views' entries (ndgrad/_aliases.py): weak references that leave their table when */
/* their array dies                                                                            */

typedef struct {
    PyWeakReference weakref;
    PyObject *table;  /* the dict the entry is in (owned) */
    PyObject *key;    /* its key there, an id() (owned) */
} AliasEntryObject;

static PyTypeObject AliasEntryType;
static PyObject *DropEntry;     /* drop_entry as a callable: every entry's callback (owned) */

/* The callback of an entry whose array died: remove the entry (and nothing else) from its
 * table, where it is the value under its key. Borrowed argument. */
static PyObject *
drop_entry(PyObject *module, PyObject *arg)
{
    if (!Py_IS_TYPE(arg, &AliasEntryType)) {
        PyErr_SetString(PyExc_TypeError, "drop_entry takes an alias entry");
        return NULL;
    }
    AliasEntryObject *entry = (AliasEntryObject *)arg;
    if (entry->table == NULL || entry->key == NULL) {
        Py_RETURN_NONE;
    }
    PyObject *table = Py_NewRef(entry->table), *key = Py_NewRef(entry->key);
    PyObject *current = PyDict_GetItemWithError(table, key);  /* borrowed */
    int rc = current == arg ? PyDict_DelItem(table, key)
             : current == NULL && PyErr_Occurred() ? -1 : 0;
    Py_DECREF(table);
    Py_DECREF(key);
    if (rc < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

/* A new entry: a weak reference to ``obj`` that removes itself from ``table[key]`` when ``obj``
 * dies. New reference. */
static PyObject *
make_alias_entry(PyObject *obj, PyObject *table, PyObject *key)
{
    PyObject *args = PyTuple_Pack(2, obj, DropEntry);
    if (args == NULL) {
        return NULL;
    }
    /* weakref's own constructor links the reference into obj's list (tp_init adds nothing) */
    PyObject *entry = _PyWeakref_RefType.tp_new(&AliasEntryType, args, NULL);
    Py_DECREF(args);
    if (entry != NULL) {
        ((AliasEntryObject *)entry)->table = Py_NewRef(table);
        ((AliasEntryObject *)entry)->key = Py_NewRef(key);
    }
    return entry;
}

PyDoc_STRVAR(alias_entry_doc,
"alias_entry(obj, table, key)\n"
"--\n\n"
"A weak reference to ``obj`` that removes itself from ``table[key]`` when ``obj`` dies (the\n"
"entries of sanctioned plain views, ndgrad._aliases._SANCTIONED).");

static PyObject *
alias_entry(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyDict_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "alias_entry(obj, table: dict, key)");
        return NULL;
    }
    return make_alias_entry(args[0], args[1], args[2]);
}

/* ------------------------------------------------------------------------------------------ */
/* The alias table: the GradArrays in a graph over each owner's memory (see ndgrad/_aliases.py) */

/* What ArrayBase adds after NumPy's array struct (at ``off_link``, NumPy's size at run time):
 * the array's place in the table. ``owner`` is NULL for an array not in it; the arrays over one
 * owner form a doubly linked list through ``prev`` and ``next``. All borrowed: an array leaves
 * the table in its dealloc (ArrayBase_dealloc), so the table holds live arrays only, and
 * nothing of it is seen by the GC. */
typedef struct {
    void *owner;
    PyObject *prev, *next;
} AliasLink;

static Py_ssize_t off_link;  /* set at import, before any ArrayBase exists */
#define LINK(a) ((AliasLink *)((char *)(a) + off_link))

/* Open addressing on the owner's address, a bucket per owner holding the head of its list.
 * ``owner`` NULL: empty; ALIAS_GONE: a deleted bucket the probes pass over. */
typedef struct {
    void *owner;
    PyObject *head;
} AliasBucket;

#define ALIAS_GONE ((void *)1)
static AliasBucket *alias_buckets;
static size_t alias_mask;    /* capacity - 1, a power of two; 0 before the first insert */
static size_t alias_filled;  /* buckets not empty: live and deleted */
static size_t alias_live;    /* buckets with a list */
static size_t alias_arrays;  /* arrays in the lists */

static inline size_t
alias_hash(void *owner)
{
    uint64_t h = (uint64_t)(uintptr_t)owner;
    h ^= h >> 33;  /* addresses differ in their middle bits: mix them into the low ones */
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return (size_t)h;
}

/* The bucket of ``owner``, or NULL when it has none. */
static AliasBucket *
alias_find(void *owner)
{
    if (alias_mask == 0) {
        return NULL;
    }
    for (size_t i = alias_hash(owner) & alias_mask;; i = (i + 1) & alias_mask) {
        AliasBucket *b = &alias_buckets[i];
        if (b->owner == owner) {
            return b;
        }
        if (b->owner == NULL) {
            return NULL;
        }
    }
}

/* Rebuild with room for twice the live buckets (at least 64), dropping the deleted ones.
 * 0 on success, -1 with MemoryError. */
static int
alias_grow(void)
{
    size_t cap = 64;
    while (cap < 4 * (alias_live + 1)) {
        cap *= 2;
    }
    AliasBucket *fresh = PyMem_Calloc(cap, sizeof(AliasBucket));
    if (fresh == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t k = 0; alias_mask && k <= alias_mask; k++) {
        AliasBucket *b = &alias_buckets[k];
        if (b->owner != NULL && b->owner != ALIAS_GONE) {
            size_t i = alias_hash(b->owner) & (cap - 1);
            while (fresh[i].owner != NULL) {
                i = (i + 1) & (cap - 1);
            }
            fresh[i] = *b;
        }
    }
    PyMem_Free(alias_buckets);
    alias_buckets = fresh;
    alias_mask = cap - 1;
    alias_filled = alias_live;
    return 0;
}

/* The owner of ``a``'s memory: the end of its chain of array bases (borrowed; what
 * memory_owner gives Python). */
static PyObject *
owner_of(PyObject *a)
{
    PyObject *base = PyArray_BASE((PyArrayObject *)a);
    while (base != NULL && PyArray_Check(base)) {
        a = base;
        base = PyArray_BASE((PyArrayObject *)a);
    }
    return a;
}

/* Put the GradArray ``a`` (borrowed) in the table under the owner of its memory; nothing if it
 * is there already. 0 on success, -1 with an error. */
static int
alias_add(PyObject *a)
{
    AliasLink *link = LINK(a);
    if (link->owner != NULL) {
        return 0;
    }
    void *owner = owner_of(a);
    AliasBucket *b = alias_find(owner);
    if (b == NULL) {
        if (2 * (alias_filled + 1) > alias_mask + 1 && alias_grow() < 0) {
            return -1;
        }
        size_t i = alias_hash(owner) & alias_mask;
        while (alias_buckets[i].owner != NULL && alias_buckets[i].owner != ALIAS_GONE) {
            i = (i + 1) & alias_mask;
        }
        b = &alias_buckets[i];
        alias_filled += b->owner == NULL;
        alias_live++;
        b->owner = owner;
        b->head = NULL;
    }
    link->owner = owner;
    link->prev = NULL;
    link->next = b->head;
    if (b->head != NULL) {
        LINK(b->head)->prev = a;
    }
    b->head = a;
    alias_arrays++;
    return 0;
}

/* Take ``a`` (borrowed, possibly dying) out of the table, if it is there. */
static void
alias_remove(PyObject *a)
{
    AliasLink *link = LINK(a);
    if (link->owner == NULL) {
        return;
    }
    if (link->next != NULL) {
        LINK(link->next)->prev = link->prev;
    }
    if (link->prev != NULL) {
        LINK(link->prev)->next = link->next;
    }
    else {
        AliasBucket *b = alias_find(link->owner);  /* a's own bucket: it was its head */
        assert(b != NULL && b->head == a);
        b->head = link->next;
        if (b->head == NULL) {
            b->owner = ALIAS_GONE;
            alias_live--;
        }
    }
    link->owner = NULL;
    link->prev = link->next = NULL;
    alias_arrays--;
}

PyDoc_STRVAR(register_alias_doc,
"register_alias(a)\n"
"--\n\n"
"Enter the GradArray ``a``, which got a node, in the alias table under the owner of its\n"
"memory (once; it leaves when it dies).");

static PyObject *
register_alias(PyObject *module, PyObject *a)
{
    if (GradArrayType == NULL || !PyObject_TypeCheck(a, GradArrayType)) {
        PyErr_SetString(PyExc_TypeError, "register_alias takes a GradArray");
        return NULL;
    }
    if (alias_add(a) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

PyDoc_STRVAR(arrays_over_doc,
"arrays_over(owner) -> list\n"
"--\n\n"
"The live GradArrays in the alias table over the memory of ``owner`` (an ndarray that owns\n"
"its memory, or ends a chain of bases), newest first.");

static PyObject *
arrays_over(PyObject *module, PyObject *owner)
{
    PyObject *found = PyList_New(0);
    AliasBucket *b = found == NULL ? NULL : alias_find(owner);
    for (PyObject *a = b == NULL ? NULL : b->head; a != NULL; a = LINK(a)->next) {
        /* an array whose dealloc has begun (its fields are being cleared) is not handed out */
        if (Py_REFCNT(a) > 0 && PyList_Append(found, a) < 0) {
            Py_CLEAR(found);
            break;
        }
    }
    return found;
}

PyDoc_STRVAR(alias_table_size_doc,
"alias_table_size() -> int\n"
"--\n\n"
"The number of arrays in the alias table.");

static PyObject *
alias_table_size(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSize_t(alias_arrays);
}

static int
AliasEntry_traverse(AliasEntryObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->table);
    Py_VISIT(self->key);
    return _PyWeakref_RefType.tp_traverse((PyObject *)self, visit, arg);
}

static int
AliasEntry_clear(AliasEntryObject *self)
{
    Py_CLEAR(self->table);
    Py_CLEAR(self->key);
    return _PyWeakref_RefType.tp_clear((PyObject *)self);
}

static void
AliasEntry_dealloc(AliasEntryObject *self)
{
    /* weakref's dealloc untracks the object and unlinks the reference, then frees it */
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->table);
    Py_CLEAR(self->key);
    _PyWeakref_RefType.tp_dealloc((PyObject *)self);
}

static PyMemberDef AliasEntry_members[] = {
    {"table", T_OBJECT, offsetof(AliasEntryObject, table), READONLY, NULL},
    {"key", T_OBJECT, offsetof(AliasEntryObject, key), READONLY, NULL},
    {NULL},
};

static PyTypeObject AliasEntryType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ndgrad._core.AliasEntry",
    .tp_basicsize = sizeof(AliasEntryObject),
    .tp_dealloc = (destructor)AliasEntry_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An entry of the alias registry (see alias_entry).",
    .tp_traverse = (traverseproc)AliasEntry_traverse,
    .tp_clear = (inquiry)AliasEntry_clear,
    .tp_members = AliasEntry_members,
};

static PyMethodDef drop_entry_def = {
    "drop_entry", (PyCFunction)drop_entry, METH_O,
    "The callback of an alias entry: remove it from its table."};

/* ------------------------------------------------------------------------------------------ */
/* The common ufunc call: ``ufunc(x)`` and ``ufunc(x, y)`` without keywords                    */

/* What ndgrad/_array.py registers with configure_array(). All owned. */
static PyObject *GradEnabledVar;     /* the ContextVar of grad mode */
static Py_ssize_t CopyBytes;         /* _graph.COPY_BYTES: saved arrays up to it are copied */
static PyObject *ConstantState;      /* _graph.CONSTANT_STATE */
static PyObject *ScalarLike;         /* _array._SCALAR_LIKE, the version tag of a 0-d result */
static PyObject *OutEllipsis;        /* ("out",) where ufuncs take out=... (NumPy 2.3 on), or NULL */
static PyObject *RefuseAliases;      /* _aliases.refuse_aliases(name, operands): raises */
static PyObject *Meta;               /* _array.array_meta(a): its shape and dtype */
static PyObject *FinishCall;         /* _array.finish_call: the tail of call_primitive */
static PyObject *TrackViews;         /* _inplace.track_views(outs, args, raw, prim, impl, kw) */
static PyObject *str_by_operands, *str_positional;

static PyObject *ObjectCast;  /* _array._object_cast(): the error for an object array in a graph */
static PyObject *BufferExport;  /* _array._buffer_export(x): the error for its buffer, or None */

/* The offsets of ArrayMeta's slots shape, dtype, strides, ndim and size (set by configure). */
static Py_ssize_t off_meta[5];

/* A tuple of ``n`` Python ints from ``values``: new reference. */
static PyObject *
int_tuple(const npy_intp *values, int n)
{
    PyObject *t = PyTuple_New(n);
    for (int i = 0; t != NULL && i < n; i++) {
        PyObject *v = PyLong_FromSsize_t(values[i]);
        if (v == NULL) {
            Py_CLEAR(t);
            break;
        }
        PyTuple_SET_ITEM(t, i, v);
    }
    return t;
}

/* The ArrayMeta of ndarray ``a``, as ``ArrayMeta(a.shape, a.dtype, a.strides)`` makes it
 * (without a Python call: every node that reads only an argument's shape keeps one). New
 * reference. */
static PyObject *
meta_of_array(PyArrayObject *a)
{
    if (ArrayMetaType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ndgrad._core.configure() was not called");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)ArrayMetaType;
    PyObject *values[5] = {
        int_tuple(PyArray_DIMS(a), PyArray_NDIM(a)),
        Py_NewRef((PyObject *)PyArray_DESCR(a)),
        int_tuple(PyArray_STRIDES(a), PyArray_NDIM(a)),
        PyLong_FromLong(PyArray_NDIM(a)),
        PyLong_FromSsize_t(PyArray_SIZE(a)),
    };
    PyObject *meta = NULL;
    if (values[0] != NULL && values[2] != NULL && values[3] != NULL && values[4] != NULL) {
        meta = type->tp_alloc(type, 0);
    }
    for (int i = 0; i < 5; i++) {
        if (meta != NULL) {
            FIELD(meta, off_meta[i]) = values[i];  /* stolen; the new object's slots are NULL */
        }
        else {
            Py_XDECREF(values[i]);
        }
    }
    return meta;
}

PyDoc_STRVAR(array_meta_doc,
"array_meta(a)\n"
"--\n\n"
"``ArrayMeta(a.shape, a.dtype, a.strides)`` for an ndarray ``a``, made in C.");

static PyObject *
array_meta(PyObject *module, PyObject *a)
{
    if (!PyArray_Check(a)) {
        PyErr_SetString(PyExc_TypeError, "array_meta(a): an ndarray");
        return NULL;
    }
    return meta_of_array((PyArrayObject *)a);
}

/* Python scalars and the NumPy scalar types that need no unwrapping and cannot override. */
static inline int
is_plain_scalar(PyObject *x)
{
    PyTypeObject *t = Py_TYPE(x);
    return t == &PyFloat_Type || t == &PyLong_Type || t == &PyBool_Type
           || t == &PyComplex_Type || t == &PyDoubleArrType_Type || t == &PyFloatArrType_Type
           || t == &PyCDoubleArrType_Type || t == &PyLongArrType_Type;
}

/* Whether arrays ``a`` and ``b`` show the same elements: the same memory, shape, strides and
 * dtype. */
static int
same_layout(PyObject *a, PyObject *b)
{
    PyArrayObject *x = (PyArrayObject *)a, *y = (PyArrayObject *)b;
    int nd = PyArray_NDIM(x);
    if (PyArray_DATA(x) != PyArray_DATA(y) || nd != PyArray_NDIM(y)
        || PyArray_DESCR(x) != PyArray_DESCR(y)) {
        return 0;
    }
    for (int i = 0; i < nd; i++) {
        if (PyArray_DIM(x, i) != PyArray_DIM(y, i) || PyArray_STRIDE(x, i) != PyArray_STRIDE(y, i)) {
            return 0;
        }
    }
    return 1;
}

/* One operand: ``*raw`` (new) is what the call computes on, ``*grad`` (borrowed) the operand
 * when it is a GradArray in a graph. 1 on success, 0 for an operand the general path must
 * take (a tracked view written through since it was recorded, another type), -1 on error.
 * ``ufunc_operand``: the call is a ufunc's (see below). */
static int
classify(PyObject *x, PyObject **raw, PyObject **grad, int ufunc_operand)
{
    *grad = NULL;
    if (Py_TYPE(x) == GradArrayType) {
        PyObject *base_ga = FIELD(x, off_base_ga), *node = FIELD(x, off_node);
        PyObject *version = FIELD(x, off_version);
        if (base_ga == NULL || node == NULL || version == NULL) {
            return 0;  /* not initialised by __array_finalize__ */
        }
        if (base_ga != Py_None) {
            /* A tracked view: as any operand while nothing was written to its memory since
             * its node was made (_inplace.refresh's first test, its version seen); otherwise
             * the general path re-records it first. */
            PyObject *seen = FIELD(x, off_seen);
            if (seen == NULL || !PyList_Check(version) || PyList_GET_SIZE(version) < 1) {
                return 0;
            }
            int fresh = PyObject_RichCompareBool(seen, PyList_GET_ITEM(version, 0), Py_EQ);
            if (fresh <= 0) {
                return fresh;
            }
        }
        PyObject *base = PyArray_BASE((PyArrayObject *)x);
        if (ufunc_operand && base != NULL && PyArray_CheckExact(base) && same_layout(x, base)
            && PyArray_NBYTES((PyArrayObject *)x) <= CopyBytes) {
            /* a small result over the array NumPy made: that array is its plain form. A ufunc
             * only reads it and returns new memory, and a rule that reads it gets a copy
             * (keep_operand); a function might return it, which must stay a view. */
            *raw = Py_NewRef(base);
        }
        else {
            *raw = PyArray_View((PyArrayObject *)x, NULL, &PyArray_Type);
            if (*raw == NULL) {
                return -1;
            }
        }
        if (node != Py_None) {
            *grad = x;
        }
        return 1;
    }
    if (PyArray_CheckExact(x) || is_plain_scalar(x)) {
        *raw = Py_NewRef(x);
        return 1;
    }
    return 0;
}

/* 1 if grad mode is on in this context, 0 if off, -1 on error. */
static int
grad_mode(void)
{
    PyObject *value;
    if (PyContextVar_Get(GradEnabledVar, NULL, &value) < 0) {
        return -1;
    }
    int on = value == NULL ? 1 : PyObject_IsTrue(value);
    Py_XDECREF(value);
    return on;
}

/* The shape tuple of the last edge made, kept for the next edges of the same shape (owned, or
 * NULL): a chain of operations on one shape shares one tuple instead of making one an edge
 * (48 bytes of each recorded operation, and its allocation). Tuples are immutable. */
static PyObject *LastShape;

/* ``ndarray.shape`` of ``a`` as a tuple, LastShape when it holds those sizes: new reference. */
static PyObject *
shape_of(PyArrayObject *a)
{
    int ndim = PyArray_NDIM(a);
    if (LastShape != NULL && PyTuple_GET_SIZE(LastShape) == ndim) {
        int same = 1;
        for (int i = 0; same && i < ndim; i++) {
            /* the items are ints this function made from sizes: no error possible */
            same = PyLong_AsSsize_t(PyTuple_GET_ITEM(LastShape, i)) == PyArray_DIM(a, i);
        }
        if (same) {
            return Py_NewRef(LastShape);
        }
    }
    PyObject *shape = PyTuple_New(ndim);
    if (shape == NULL) {
        return NULL;
    }
    for (int i = 0; i < ndim; i++) {
        PyObject *n = PyLong_FromSsize_t(PyArray_DIM(a, i));
        if (n == NULL) {
            Py_DECREF(shape);
            return NULL;
        }
        PyTuple_SET_ITEM(shape, i, n);
    }
    Py_XSETREF(LastShape, Py_NewRef(shape));
    return shape;
}

/* Fill ``edge`` (a node's, from node_alloc: every field NULL) with the edge to GradArray ``x``
 * at positional ``slot``. 0, or -1 on error (the fields filled are the node's to release). */
static int
fill_edge(PyObject **edge, Py_ssize_t slot, PyObject *x)
{
    PyArrayObject *a = (PyArrayObject *)x;
    edge[EDGE_SHAPE] = shape_of(a);
    edge[EDGE_SLOT] = PyLong_FromSsize_t(slot);
    if (edge[EDGE_SHAPE] == NULL || edge[EDGE_SLOT] == NULL) {
        return -1;
    }
    edge[EDGE_FLAT] = Py_NewRef(Py_None);
    edge[EDGE_PARENT] = Py_NewRef(FIELD(x, off_node));
    edge[EDGE_OUT] = Py_NewRef(FIELD(x, off_out));
    edge[EDGE_DTYPE] = Py_NewRef((PyObject *)PyArray_DESCR(a));
    return 0;
}

/* A private copy of the small array ``a`` (borrowed), as np.copy(a, order="K") makes it: new
 * reference. A C-contiguous array of plain data is one memcpy; PyArray_NewCopy's general
 * assignment costs twice as much as the whole copy on the arrays saved here. */
static PyObject *
small_copy(PyArrayObject *a)
{
    PyArray_Descr *descr = PyArray_DESCR(a);
    if (!PyArray_IS_C_CONTIGUOUS(a) || PyDataType_REFCHK(descr)) {
        return PyArray_NewCopy(a, NPY_KEEPORDER);
    }
    Py_INCREF(descr);  /* stolen */
    PyObject *copy = PyArray_NewFromDescr(&PyArray_Type, descr, PyArray_NDIM(a), PyArray_DIMS(a),
                                          NULL, NULL, 0, NULL);
    if (copy != NULL) {
        memcpy(PyArray_DATA((PyArrayObject *)copy), PyArray_DATA(a), PyArray_NBYTES(a));
    }
    return copy;
}

/* ------------------------------------------------------------------------------------------ */
/* Memory guards: Guard, Hold, and saving and releasing them                                  */
/*
 * What _graph's "memory guards" section describes, for the recording path: a node that saves
 * a large array takes a Hold on the Guard of its memory, which makes the array read-only; the
 * last Hold dropped restores the flags the guard changed, and only those. _graph keeps the
 * rare paths in Python (the copy-on-write of release_for_write, a view adopted) and calls
 * restore_guard for the flags. Every change to a guard's counts, to LOCKS and to GUARDED
 * happens with _graph._LOCKS_MUTEX held, here as in Python (a re-entrant lock: a Hold may be
 * dropped while its thread holds it), so that threads saving and freeing one memory keep them
 * exact. Fingerprints are _graph.fingerprint's, taken outside the lock as there.
 */

/* What _graph registers with configure_guards(). All owned. */
static PyObject *Locks;          /* _graph.LOCKS: id(array) -> [array, count, fingerprint] */
static PyObject *Guarded;        /* _graph.GUARDED: id(owner of the memory) -> count */
static PyObject *Stuck;          /* _graph._STUCK: arrays, or weak references, to retry */
static PyObject *LockAcquire;    /* _graph._LOCKS_MUTEX.acquire */
static PyObject *LockRelease;    /* _graph._LOCKS_MUTEX.release */
static PyObject *ReleasedMark;   /* _graph._RELEASED: the snapshot of a guard released bare */
/* _graph's globals: fingerprint(a) and sealed(a) are looked up there on each use, as Python
 * looks up a global (tests replace fingerprint to count what is read) */
static PyObject *GraphGlobals;
static PyObject *SealedMark;     /* _graph.SEALED_MARK */
static PyObject *SetFlags;       /* np.ndarray.setflags */
static PyObject *WriteKw;        /* ("write",) */
static PyObject *str_plain, *str_array, *str_saved, *str_fingerprint, *str_sealed, *str_verified;
static int CheckSaved = 1;       /* _graph.CHECK_SAVED */

typedef struct {
    PyObject_HEAD
    PyObject *ref;        /* weak reference to the first array it guards */
    PyObject *saved;      /* the plain array a node saved, or None */
    PyObject *fp;         /* its fingerprint (None: not checked) */
    PyObject *more;       /* a list of (kind, value) for further arrays, or None */
    PyObject *snapshot;   /* None while it guards; _RELEASED or the old values after */
    PyObject *owner;      /* id of its memory's owner, counted in GUARDED, or None */
    Py_ssize_t users;     /* live Holds */
    char first;           /* it made the first array read-only */
    char born_locked;     /* made read-only, array and base, by the call that allocated it */
    PyObject *weakreflist;
} GuardObject;

typedef struct {
    PyObject_HEAD
    GuardObject *guard;
    PyObject *raw;  /* the plain array the node saved */
    PyObject *fp;   /* its fingerprint when saved (None: not checked) */
} HoldObject;

static PyTypeObject GuardType, HoldType;

static int
lock_guards(void)
{
    PyObject *r = PyObject_CallNoArgs(LockAcquire);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Release the lock; an error already set (a failure under the lock) is kept, and a failure to
 * release is then reported as unraisable. 0, or -1 on error. */
static int
unlock_guards(void)
{
    if (!PyErr_Occurred()) {
        PyObject *r = PyObject_CallNoArgs(LockRelease);
        Py_XDECREF(r);
        return r == NULL ? -1 : 0;
    }
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyObject *r = PyObject_CallNoArgs(LockRelease);
    if (r == NULL) {
        PyErr_WriteUnraisable(LockRelease);
    }
    Py_XDECREF(r);
    PyErr_Restore(type, value, tb);
    return -1;
}

/* NumPy's private _NPY_ARRAY_WARN_ON_WRITE (``flags.num`` shows it too): the flag of the views
 * ``np.broadcast_arrays`` returns, whose ``flags.writeable`` warns when read. */
#define WARN_ON_WRITE 0x80000000

/* Whether the ndarray ``a`` is writable and not one of NumPy's warn-on-write views (those are
 * left alone: reading or setting their ``flags.writeable`` warns). */
static int
is_writeable(PyObject *a)
{
    int flags = PyArray_FLAGS((PyArrayObject *)a);
    return (flags & NPY_ARRAY_WRITEABLE) && !(flags & WARN_ON_WRITE);
}

PyDoc_STRVAR(memory_owner_doc,
"memory_owner(a) -> ndarray\n"
"--\n\n"
"The ndarray at the end of ``a``'s chain of bases: what holds the memory.");

static PyObject *
memory_owner(PyObject *module, PyObject *a)
{
    if (!PyArray_Check(a)) {
        PyErr_Format(PyExc_TypeError, "memory_owner() takes an ndarray, not %.100s",
                     Py_TYPE(a)->tp_name);
        return NULL;
    }
    return Py_NewRef(owner_of(a));
}

/* ``np.ndarray.setflags(a, write=True)``; where NumPy refuses (the base is still read-only),
 * ``ref`` (a weak reference to ``a``), or ``a`` if NULL, goes to _STUCK, retried when a lock
 * goes. 0, or -1 on another error. */
static int
make_writeable(PyObject *a, PyObject *ref)
{
    PyObject *args[2] = {a, Py_True};
    PyObject *r = PyObject_Vectorcall(SetFlags, args, 1, WriteKw);
    if (r != NULL) {
        Py_DECREF(r);
        return 0;
    }
    if (!PyErr_ExceptionMatches(PyExc_ValueError)) {
        return -1;
    }
    PyErr_Clear();
    return PyList_Append(Stuck, ref != NULL ? ref : a);
}

/* Count a lock of the plain ndarray ``a`` in LOCKS, making it read-only on the first: 1, or
 * 0 where it is read-only already (not ours to change), -1 on error. Lock held. */
static int
lock_plain(PyObject *a)
{
    PyObject *key = PyLong_FromVoidPtr(a);
    if (key == NULL) {
        return -1;
    }
    PyObject *entry = PyDict_GetItemWithError(Locks, key);  /* borrowed */
    int rc;
    if (entry != NULL) {
        PyObject *count = PyNumber_Add(PyList_GET_ITEM(entry, 1), int_one);
        rc = count == NULL ? -1 : (PyList_SetItem(entry, 1, count) < 0 ? -1 : 1);
    }
    else if (PyErr_Occurred()) {
        rc = -1;
    }
    else if (!is_writeable(a)) {
        rc = 0;
    }
    else {
        entry = PyList_New(3);
        if (entry == NULL) {
            rc = -1;
        }
        else {
            PyList_SET_ITEM(entry, 0, Py_NewRef(a));
            PyList_SET_ITEM(entry, 1, Py_NewRef(int_one));
            PyList_SET_ITEM(entry, 2, Py_NewRef(Py_None));
            rc = PyDict_SetItem(Locks, key, entry) < 0 ? -1 : 1;
            Py_DECREF(entry);
            if (rc == 1) {
                PyArray_CLEARFLAGS((PyArrayObject *)a, NPY_ARRAY_WRITEABLE);
            }
        }
    }
    Py_DECREF(key);
    return rc;
}

/* Undo one lock_plain of ``a``; the last one makes it writable again and retries _STUCK. 0, or
 * -1 on error. Lock held. */
static int
unlock_plain(PyObject *a)
{
    PyObject *key = PyLong_FromVoidPtr(a);
    if (key == NULL) {
        return -1;
    }
    PyObject *entry = PyDict_GetItemWithError(Locks, key);  /* borrowed */
    if (entry == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetObject(PyExc_KeyError, key);
        }
        Py_DECREF(key);
        return -1;
    }
    Py_ssize_t count = PyLong_AsSsize_t(PyList_GET_ITEM(entry, 1)) - 1;
    if (count < 0) {
        Py_DECREF(key);
        return -1;
    }
    if (count != 0) {
        PyObject *left = PyLong_FromSsize_t(count);
        int rc = left == NULL ? -1 : PyList_SetItem(entry, 1, left);
        Py_DECREF(key);
        return rc;
    }
    Py_INCREF(a);  /* the entry held it */
    int rc = PyDict_DelItem(Locks, key);
    Py_DECREF(key);
    if (rc == 0) {
        rc = make_writeable(a, NULL);
    }
    Py_DECREF(a);
    if (rc < 0 || PyList_GET_SIZE(Stuck) == 0) {
        return rc;
    }
    PyObject *stuck = PyList_GetSlice(Stuck, 0, PyList_GET_SIZE(Stuck));
    if (stuck == NULL || PyList_SetSlice(Stuck, 0, PyList_GET_SIZE(Stuck), NULL) < 0) {
        Py_XDECREF(stuck);
        return -1;
    }
    for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(stuck); i++) {
        PyObject *ref = PyList_GET_ITEM(stuck, i);
        PyObject *obj = PyWeakref_CheckRef(ref) ? PyWeakref_GET_OBJECT(ref) : ref;
        if (obj == Py_None) {
            continue;
        }
        PyObject *id = PyLong_FromVoidPtr(obj);
        int held = id == NULL ? -1 : PyDict_Contains(Locks, id);
        Py_XDECREF(id);
        Py_INCREF(obj);
        rc = held < 0 ? -1 : (held ? 0 : make_writeable(obj, ref));
        Py_DECREF(obj);
    }
    Py_DECREF(stuck);
    return rc;
}

/* Append (kind, value) to the guard's ``more``. 0, or -1 on error. */
static int
guard_add(GuardObject *g, PyObject *kind, PyObject *value)
{
    if (g->more == Py_None) {
        PyObject *more = PyList_New(0);
        if (more == NULL) {
            return -1;
        }
        Py_SETREF(g->more, more);
    }
    PyObject *item = PyTuple_Pack(2, kind, value);
    int rc = item == NULL ? -1 : PyList_Append(g->more, item);
    Py_XDECREF(item);
    return rc;
}

/* A weak reference to ``a`` tagged ``kind`` in the guard's ``more``. */
static int
guard_add_ref(GuardObject *g, PyObject *a)
{
    PyObject *ref = PyWeakref_NewRef(a, NULL);
    int rc = ref == NULL ? -1 : guard_add(g, str_array, ref);
    Py_XDECREF(ref);
    return rc;
}

/* Make GradArray ``a`` read-only while the guard lives (the views made from it afterwards get
 * its flag). Its base stays writable: locking it would leave the views made before
 * inconsistent (writable views of read-only memory), which NumPy's own functions refuse. */
static int
guard_lock(GuardObject *g, PyObject *a)
{
    if (!is_writeable(a)) {
        return 0;  /* read-only already: locked by this guard, or not ours to change */
    }
    PyArray_CLEARFLAGS((PyArrayObject *)a, NPY_ARRAY_WRITEABLE);
    if (PyWeakref_GET_OBJECT(g->ref) == a) {
        g->first = 1;
        return 0;
    }
    return guard_add_ref(g, a);
}

static int
guard_owner(GuardObject *g, PyObject *x)
{
    PyObject *key = PyLong_FromVoidPtr(owner_of(x));
    if (key == NULL) {
        return -1;
    }
    PyObject *count = PyDict_GetItemWithError(Guarded, key);  /* borrowed */
    PyObject *more = count != NULL ? PyNumber_Add(count, int_one)
                                   : (PyErr_Occurred() ? NULL : Py_NewRef(int_one));
    int rc = more == NULL ? -1 : PyDict_SetItem(Guarded, key, more);
    Py_XDECREF(more);
    if (rc == 0) {
        Py_SETREF(g->owner, key);
    }
    else {
        Py_DECREF(key);
    }
    return rc;
}

static int
unguard_owner(GuardObject *g)
{
    if (g->owner == Py_None) {
        return 0;
    }
    PyObject *key = g->owner;
    g->owner = Py_NewRef(Py_None);
    PyObject *count = PyDict_GetItemWithError(Guarded, key);  /* borrowed */
    Py_ssize_t left = count == NULL ? -1 : PyLong_AsSsize_t(count) - 1;
    int rc;
    if (count == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetObject(PyExc_KeyError, key);
        }
        rc = -1;
    }
    else if (left > 0) {
        PyObject *n = PyLong_FromSsize_t(left);
        rc = n == NULL ? -1 : PyDict_SetItem(Guarded, key, n);
        Py_XDECREF(n);
    }
    else {
        rc = left == 0 ? PyDict_DelItem(Guarded, key) : -1;
    }
    Py_DECREF(key);
    return rc;
}

/* Restore the flags the guard changed and mark it released: its snapshot becomes
 * ``snapshot`` (a dict of old values, from release_for_write) or _RELEASED if NULL. The plain
 * arrays go first: a view is writable only if its base is. 0, or -1 on error. Lock held. */
static int
restore(GuardObject *g, PyObject *snapshot)
{
    int rc = unguard_owner(g);
    Py_SETREF(g->snapshot, Py_NewRef(snapshot != NULL ? snapshot : ReleasedMark));
    PyObject *more = g->more;  /* taken: nothing else reads it after the release */
    g->more = Py_NewRef(Py_None);
    if (more != Py_None) {
        for (int pass = 0; pass < 2; pass++) {
            for (Py_ssize_t i = 0; rc == 0 && i < PyList_GET_SIZE(more); i++) {
                PyObject *item = PyList_GET_ITEM(more, i);
                PyObject *kind = PyTuple_GET_ITEM(item, 0), *value = PyTuple_GET_ITEM(item, 1);
                if (pass == 0 && kind == str_plain) {
                    rc = unlock_plain(value);
                }
                else if (pass == 1 && kind == str_array) {
                    PyObject *a = PyWeakref_GET_OBJECT(value);
                    if (a != Py_None) {
                        Py_INCREF(a);
                        rc = make_writeable(a, value);
                        Py_DECREF(a);
                    }
                }
            }
        }
    }
    Py_DECREF(more);
    if (g->first && rc == 0) {
        PyObject *a = PyWeakref_GET_OBJECT(g->ref);
        if (a != Py_None) {
            Py_INCREF(a);
            rc = make_writeable(a, g->ref);
            Py_DECREF(a);
        }
    }
    g->first = 0;
    Py_SETREF(g->saved, Py_NewRef(Py_None));
    return rc;
}

/* Whether _graph has registered the guards' state (it does when it is imported). */
static int
guards_configured(void)
{
    if (Locks == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the guards are used before configure_guards()");
        return 0;
    }
    return 1;
}

PyDoc_STRVAR(restore_guard_doc,
"restore_guard(guard, snapshot=None)\n"
"--\n\n"
"Release ``guard`` (the caller holds _graph._LOCKS_MUTEX): restore the flags it changed and\n"
"set its snapshot to ``snapshot`` (the old values, by id of the saved array) or _RELEASED.");

static PyObject *
restore_guard(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2 || !PyObject_TypeCheck(args[0], &GuardType)
        || (nargs == 2 && args[1] != Py_None && !PyDict_Check(args[1]))) {
        PyErr_SetString(PyExc_TypeError, "restore_guard(guard, snapshot: dict | None = None)");
        return NULL;
    }
    PyObject *snapshot = nargs == 2 && args[1] != Py_None ? args[1] : NULL;
    if (!guards_configured()) {
        return NULL;
    }
    return restore((GuardObject *)args[0], snapshot) < 0 ? NULL : Py_NewRef(Py_None);
}

/* Undo what guard ``g`` locked when no hold on it could be made (an error is set, and kept).
 * Lock held. */
static void
unwind(GuardObject *g)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (restore(g, NULL) < 0) {
        PyErr_WriteUnraisable((PyObject *)g);
    }
    PyErr_Restore(type, value, tb);
}

/* With the lock not held and any pending error set aside (and kept): take the lock, restore
 * ``g`` where it is not released yet (with ``drop``, only when the hold that goes was its last
 * user), and release the lock. Failures are reported as unraisable, on behalf of ``who``: a
 * hold's deallocation cannot raise. */
static void
release_guard(GuardObject *g, int drop, PyObject *who)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (lock_guards() < 0) {
        PyErr_WriteUnraisable(who);
    }
    else {
        int last = !drop || --g->users == 0;
        if (last && g->snapshot == Py_None && restore(g, NULL) < 0) {
            PyErr_WriteUnraisable(who);
        }
        if (unlock_guards() < 0) {
            PyErr_WriteUnraisable(who);
        }
    }
    PyErr_Restore(type, value, tb);
}

/* A new guard of array ``a`` (not yet locking anything), one user. */
static GuardObject *
new_guard(PyObject *a)
{
    PyObject *ref = PyWeakref_NewRef(a, NULL);
    if (ref == NULL) {
        return NULL;
    }
    GuardObject *g = PyObject_New(GuardObject, &GuardType);
    if (g == NULL) {
        Py_DECREF(ref);
        return NULL;
    }
    g->ref = ref;
    g->saved = Py_NewRef(Py_None);
    g->fp = Py_NewRef(Py_None);
    g->more = Py_NewRef(Py_None);
    g->snapshot = Py_NewRef(Py_None);
    g->owner = Py_NewRef(Py_None);
    g->users = 1;
    g->first = g->born_locked = 0;
    g->weakreflist = NULL;
    return g;
}

/* The fingerprint a Hold keeps (borrowed), or NULL if ``hold`` is not a Hold. */
static PyObject *
hold_fp(PyObject *hold)
{
    return Py_IS_TYPE(hold, &HoldType) ? ((HoldObject *)hold)->fp : NULL;
}

static PyObject *
new_hold(GuardObject *g, PyObject *raw, PyObject *fp)
{
    HoldObject *h = PyObject_New(HoldObject, &HoldType);
    if (h == NULL) {
        return NULL;
    }
    h->guard = (GuardObject *)Py_NewRef(g);
    h->raw = Py_NewRef(raw);
    h->fp = Py_NewRef(fp);
    return (PyObject *)h;
}

/* _graph.fingerprint(raw), or SEALED_MARK where ``raw``'s memory is sealed (a transform's
 * private copy: no writable view of it exists). New reference. */
static PyObject *
call_graph_function(PyObject *name, PyObject *arg)
{
    PyObject *f = PyDict_GetItemWithError(GraphGlobals, name);  /* borrowed */
    if (f == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetObject(PyExc_NameError, name);
        }
        return NULL;
    }
    Py_INCREF(f);
    PyObject *r = PyObject_CallOneArg(f, arg);
    Py_DECREF(f);
    return r;
}

/* Whether fingerprint ``now`` equals ``fp`` (a C-ordered array) as _graph.intact compares them:
 * the same shape and bytes. 1, or 0 where they differ or ``now`` is not a plain C-ordered
 * array of fp's dtype (intact then decides). */
static int
same_fingerprint(PyObject *now, PyObject *fp)
{
    if (!PyArray_CheckExact(now)) {
        return 0;
    }
    PyArrayObject *a = (PyArrayObject *)now, *b = (PyArrayObject *)fp;
    if (!PyArray_SAMESHAPE(a, b) || !PyArray_EquivTypes(PyArray_DESCR(a), PyArray_DESCR(b))
        || !PyArray_IS_C_CONTIGUOUS(a) || !PyArray_IS_C_CONTIGUOUS(b)) {
        return 0;
    }
    return memcmp(PyArray_DATA(a), PyArray_DATA(b), (size_t)PyArray_NBYTES(a)) == 0;
}

/* _graph._check_versions' comparison of fingerprints, where nothing else needs that function
 * (every version unmoved, each fingerprint an array): whether each Hold's array in
 * ``versions`` still has the fingerprint taken when it was saved. Inside a block of
 * _graph._VERIFIED a node is compared once, and recorded there once all match, as that function
 * records it. 1 (all match, or compared before), 0 (one differs, or a case _graph.intact
 * decides: _check_versions then judges, and records the node itself), -1 on error. */
static int
fingerprints_intact(PyObject *node, PyObject *versions)
{
    if (GraphGlobals == NULL) {
        return 0;
    }
    PyObject *var = PyDict_GetItemWithError(GraphGlobals, str_verified);  /* borrowed */
    if (var == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetObject(PyExc_NameError, str_verified);
        }
        return -1;
    }
    PyObject *verified;
    if (PyContextVar_Get(var, NULL, &verified) < 0) {
        return -1;
    }
    if (verified == NULL || (verified != Py_None && !PySet_CheckExact(verified))) {
        Py_XDECREF(verified);
        return 0;
    }
    if (verified != Py_None) {
        int seen = PySet_Contains(verified, node);
        if (seen != 0) {
            Py_DECREF(verified);
            return seen < 0 ? -1 : 1;
        }
    }
    int intact = 1;
    for (Py_ssize_t i = 0; intact == 1 && i < PyTuple_GET_SIZE(versions); i += 4) {
        PyObject *hold = PyTuple_GET_ITEM(versions, i + 3);
        PyObject *fp = hold_fp(hold);  /* borrowed */
        if (fp == NULL || !PyArray_CheckExact(fp)) {
            continue;
        }
        PyObject *now = call_graph_function(str_fingerprint, ((HoldObject *)hold)->raw);
        if (now == NULL) {
            intact = -1;
            break;
        }
        intact = same_fingerprint(now, fp);
        Py_DECREF(now);
    }
    if (intact == 1 && verified != Py_None && PySet_Add(verified, node) < 0) {
        intact = -1;
    }
    Py_DECREF(verified);
    return intact;
}

static PyObject *
fingerprint_or_seal(PyObject *raw, int seal)
{
    if (seal) {
        PyObject *s = call_graph_function(str_sealed, raw);
        if (s == NULL) {
            return NULL;
        }
        int is_sealed = PyObject_IsTrue(s);
        Py_DECREF(s);
        if (is_sealed < 0) {
            return NULL;
        }
        if (is_sealed) {
            return Py_NewRef(SealedMark);
        }
    }
    return call_graph_function(str_fingerprint, raw);
}

/* The guard a GradArray's version state points at (borrowed), or NULL: none, or gone. */
static GuardObject *
known_guard(PyObject *state)
{
    PyObject *ref = PyList_GET_ITEM(state, 1);
    if (ref == Py_None) {
        return NULL;
    }
    PyObject *g = PyWeakref_GET_OBJECT(ref);
    return g == Py_None ? NULL : (GuardObject *)g;
}

/* guard_saved(x, raw, fresh): see its docstring. New reference to a Hold. */
static PyObject *
hold_saved(PyObject *x, PyObject *raw, int fresh)
{
    PyObject *state = FIELD(x, off_version);
    if (!PyList_CheckExact(state) || PyList_GET_SIZE(state) < 2) {
        PyErr_SetString(PyExc_TypeError, "guard_saved: a GradArray's _version must be a list");
        return NULL;
    }
    Py_INCREF(state);
    PyObject *fp = Py_NewRef(Py_None), *hold = NULL;
    int check = CheckSaved && !fresh;
    if (check) {
        GuardObject *known = known_guard(state);
        if (known == NULL || known->snapshot != Py_None || !known->born_locked) {
            Py_SETREF(fp, fingerprint_or_seal(raw, 1));  /* outside the lock: reads every byte */
            if (fp == NULL) {
                Py_DECREF(state);
                return NULL;
            }
        }
    }
    if (lock_guards() < 0) {
        Py_DECREF(state);
        Py_DECREF(fp);
        return NULL;
    }
    /* one guard per memory, even when threads save it at once */
    GuardObject *g = known_guard(state);
    Py_XINCREF(g);  /* a collection that an allocation below starts may drop its last hold */
    if (g == NULL || g->snapshot != Py_None) {  /* none, or released by its last hold */
        Py_XDECREF(g);
        if (fp == Py_None && check) {  /* released since it was looked at */
            Py_SETREF(fp, fingerprint_or_seal(raw, 0));
            if (fp == NULL) {
                goto done;
            }
        }
        g = new_guard(x);
        if (g == NULL) {
            goto done;
        }
        Py_SETREF(g->saved, Py_NewRef(raw));
        Py_SETREF(g->fp, Py_NewRef(fp));
        PyObject *ref = PyWeakref_NewRef((PyObject *)g, NULL);
        if (ref == NULL || PyList_SetItem(state, 1, ref) < 0) {
            Py_DECREF(g);
            goto done;
        }
        if (is_writeable(x)) {
            PyArray_CLEARFLAGS((PyArrayObject *)x, NPY_ARRAY_WRITEABLE);
            g->first = 1;
        }
        int rc = 0;
        if (fresh && PyArray_BASE((PyArrayObject *)x) == raw) {  /* ``x.base`` read-only too */
            rc = lock_plain(raw);
            if (rc > 0) {
                rc = guard_add(g, str_plain, raw);
                g->born_locked = g->first;
            }
        }
        if (rc >= 0 && guard_owner(g, x) == 0) {
            hold = new_hold(g, raw, fp);
        }
        if (hold == NULL) {
            unwind(g);
        }
        Py_DECREF(g);  /* the hold has it, or it goes */
        goto done;
    }
    if (fp == Py_None && CheckSaved && !g->born_locked) {  /* fresh after all, or replaced */
        Py_SETREF(fp, fingerprint_or_seal(raw, 0));
        if (fp == NULL) {
            Py_DECREF(g);
            goto done;
        }
    }
    g->users++;  /* a hold is made next, or undone below */
    int rc = 0;
    if (!(g->first && PyWeakref_GET_OBJECT(g->ref) == x)) {
        rc = guard_lock(g, x);
    }
    if (rc == 0 && raw != g->saved) {
        PyObject *pair = PyTuple_Pack(2, raw, fp);
        rc = pair == NULL ? -1 : guard_add(g, str_saved, pair);
        Py_XDECREF(pair);
    }
    if (rc == 0) {
        hold = new_hold(g, raw, fp);
    }
    if (hold == NULL) {
        g->users--;
    }
    Py_DECREF(g);
done:
    if (unlock_guards() < 0) {  /* keeps the error of a failure above */
        Py_CLEAR(hold);
    }
    Py_DECREF(state);
    Py_XDECREF(fp);
    return hold;
}

/* guard_plain(raw): see its docstring. New reference to a Hold. */
static PyObject *
hold_plain(PyObject *raw)
{
    GuardObject *g = new_guard(raw);
    if (g == NULL) {
        return NULL;
    }
    PyObject *owner = owner_of(raw), *entry = NULL, *hold = NULL, *fp = NULL;
    if (lock_guards() < 0) {
        Py_DECREF(g);
        return NULL;
    }
    int rc = lock_plain(raw);
    if (rc > 0) {
        rc = guard_add(g, str_plain, raw);
    }
    if (rc >= 0 && owner != raw && Py_IS_TYPE(owner, &PyArray_Type)) {
        rc = lock_plain(owner);
        if (rc > 0) {
            rc = guard_add(g, str_plain, owner);
        }
    }
    if (rc >= 0 && CheckSaved) {
        PyObject *key = PyLong_FromVoidPtr(owner);
        entry = key == NULL ? NULL : PyDict_GetItemWithError(Locks, key);
        Py_XINCREF(entry);
        Py_XDECREF(key);
        rc = entry == NULL && PyErr_Occurred() ? -1 : 0;
    }
    if (unlock_guards() < 0 || rc < 0) {
        goto done;
    }
    if (!CheckSaved) {
        hold = new_hold(g, raw, Py_None);
        goto done;
    }
    /* A contiguous array (C or Fortran order) is fingerprinted in memory order: its fingerprint
     * is that of its bytes, whatever its shape and dtype (``x`` and ``x.T`` share one); one
     * taken while the owner was locked serves every later save of those bytes. */
    PyArrayObject *a = (PyArrayObject *)raw;
    int spans = PyArray_IS_C_CONTIGUOUS(a) || PyArray_IS_F_CONTIGUOUS(a);
    void *start = PyArray_DATA(a);
    Py_ssize_t nbytes = PyArray_NBYTES(a);
    if (spans && entry != NULL) {
        PyObject *known = PyList_GET_ITEM(entry, 2);
        if (PyTuple_CheckExact(known) && PyTuple_GET_SIZE(known) == 3
            && PyLong_AsVoidPtr(PyTuple_GET_ITEM(known, 0)) == start
            && PyLong_AsSsize_t(PyTuple_GET_ITEM(known, 1)) == nbytes) {
            hold = new_hold(g, raw, PyTuple_GET_ITEM(known, 2));
            goto done;
        }
        if (PyErr_Occurred()) {
            goto done;
        }
    }
    fp = call_graph_function(str_fingerprint, raw);  /* outside the lock: it reads every byte */
    if (fp == NULL) {
        goto done;
    }
    if (spans && entry != NULL) {  /* the entry stays while this guard holds its array */
        PyObject *known = Py_BuildValue("(NnO)", PyLong_FromVoidPtr(start), nbytes, fp);
        if (known == NULL || PyList_SetItem(entry, 2, known) < 0) {
            goto done;
        }
    }
    hold = new_hold(g, raw, fp);
done:
    if (hold == NULL) {  /* undo what it locked */
        release_guard(g, 0, (PyObject *)g);
    }
    Py_XDECREF(entry);
    Py_XDECREF(fp);
    Py_DECREF(g);
    return hold;
}

PyDoc_STRVAR(guard_saved_doc,
"guard_saved(x, raw, fresh=False) -> Hold\n"
"--\n\n"
"A hold on the guard of GradArray ``x``'s memory, which a node saves as ``raw``.\n\n"
"``fresh``: ``x`` is the result the calling operation just made, a GradArray over ``raw``,\n"
"memory NumPy allocated in that call. No view of it can have been made before, so once both\n"
"are read-only no write that respects NumPy's writeable flag can reach it: its fingerprint\n"
"is not needed (about a third of the check's cost where rules read their output); nor for\n"
"any later save of that memory while the guard lives (``born_locked``: ``exp(x) * x`` saves\n"
"``exp(x)`` a second time).");

static PyObject *
guard_saved(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (!guards_configured()) {
        return NULL;
    }
    if (nargs < 2 || nargs > 3 || GradArrayType == NULL
        || !PyObject_TypeCheck(args[0], GradArrayType) || !PyArray_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "guard_saved(x: GradArray, raw: ndarray, fresh=False)");
        return NULL;
    }
    int fresh = nargs == 3 ? PyObject_IsTrue(args[2]) : 0;
    return fresh < 0 ? NULL : hold_saved(args[0], args[1], fresh);
}

PyDoc_STRVAR(guard_plain_doc,
"guard_plain(raw) -> Hold\n"
"--\n\n"
"A hold on a new guard for a plain ndarray operand a node saves (the user's constants).\n\n"
"``raw`` and the owner of its memory are made read-only while the guard lives. Its\n"
"fingerprint is taken once while ndgrad keeps the array read-only: a constant that several\n"
"live nodes save (a data matrix read by the forward pass, the recorded backward pass and a\n"
"forward-mode push) is read once, not once per node. It has not been written through itself\n"
"since (it was read-only throughout); a write through a view made before is the only way it\n"
"can change, and then the check of every node that saved it fails, the later ones too (never\n"
"a wrong gradient; at worst an error for a node whose values were new).");

static PyObject *
guard_plain(PyObject *module, PyObject *raw)
{
    if (!guards_configured()) {
        return NULL;
    }
    if (!PyArray_Check(raw)) {
        PyErr_SetString(PyExc_TypeError, "guard_plain(raw: ndarray)");
        return NULL;
    }
    return hold_plain(raw);
}

/* A hold goes: the guard is released when it was the last. */
static void
Hold_dealloc(HoldObject *self)
{
    release_guard(self->guard, 1, (PyObject *)self);
    Py_DECREF(self->guard);
    Py_DECREF(self->raw);
    Py_DECREF(self->fp);
    PyObject_Free(self);
}

static PyObject *
Hold_snapshot(HoldObject *self, void *closure)
{
    return Py_NewRef(self->guard->snapshot);
}

static PyMemberDef Hold_members[] = {
    {"guard", T_OBJECT, offsetof(HoldObject, guard), READONLY, NULL},
    {"raw", T_OBJECT, offsetof(HoldObject, raw), READONLY, NULL},
    {"fp", T_OBJECT, offsetof(HoldObject, fp), READONLY, NULL},
    {NULL},
};

static PyGetSetDef Hold_getset[] = {
    {"snapshot", (getter)Hold_snapshot, NULL, "The guard's snapshot (None while it guards).",
     NULL},
    {NULL},
};

static PyTypeObject HoldType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ndgrad._core.Hold",
    .tp_doc = PyDoc_STR(
        "One node's hold on a Guard: what the node's ``versions`` keep (made by guard_saved\n"
        "and guard_plain). ``raw`` is the plain array the node saved and ``fp`` its\n"
        "fingerprint when saved (None: not checked), which _check_versions compares before\n"
        "backward uses it. Holds are never shared or looked up, so a hold being dropped in one\n"
        "thread cannot be taken up again by another: the guard's count of them is exact; the\n"
        "last one dropped restores the flags."),
    .tp_basicsize = sizeof(HoldObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)Hold_dealloc,
    .tp_members = Hold_members,
    .tp_getset = Hold_getset,
};

static void
Guard_dealloc(GuardObject *self)
{
    if (self->weakreflist != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    Py_DECREF(self->ref);
    Py_DECREF(self->saved);
    Py_DECREF(self->fp);
    Py_DECREF(self->more);
    Py_DECREF(self->snapshot);
    Py_DECREF(self->owner);
    PyObject_Free(self);
}

/* ``guard()``: the first array it guards, or None (a weak reference's call). */
static PyObject *
Guard_call(GuardObject *self, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0)) {
        PyErr_SetString(PyExc_TypeError, "a Guard takes no arguments");
        return NULL;
    }
    return Py_NewRef(PyWeakref_GET_OBJECT(self->ref));
}

static PyObject *
Guard_holds(GuardObject *self, PyObject *a)
{
    if (self->first && PyWeakref_GET_OBJECT(self->ref) == a) {
        Py_RETURN_TRUE;
    }
    if (self->more != Py_None) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(self->more); i++) {
            PyObject *item = PyList_GET_ITEM(self->more, i);
            if (PyTuple_GET_ITEM(item, 0) == str_array
                && PyWeakref_GET_OBJECT(PyTuple_GET_ITEM(item, 1)) == a) {
                Py_RETURN_TRUE;
            }
        }
    }
    Py_RETURN_FALSE;
}

static PyObject *
Guard_adopt(GuardObject *self, PyObject *a)
{
    if (!PyArray_Check(a)) {
        PyErr_SetString(PyExc_TypeError, "adopt() takes an ndarray");
        return NULL;
    }
    return guard_add_ref(self, a) < 0 ? NULL : Py_NewRef(Py_None);
}

static PyMethodDef Guard_methods[] = {
    {"holds", (PyCFunction)Guard_holds, METH_O,
     "Whether the guard made the array read-only (and restores it)."},
    {"adopt", (PyCFunction)Guard_adopt, METH_O,
     "A view made while its base was guarded: read-only because of us, restored with it."},
    {NULL},
};

static PyMemberDef Guard_members[] = {
    {"saved", T_OBJECT, offsetof(GuardObject, saved), READONLY, NULL},
    {"fp", T_OBJECT, offsetof(GuardObject, fp), READONLY, NULL},
    {"more", T_OBJECT, offsetof(GuardObject, more), READONLY, NULL},
    {"snapshot", T_OBJECT, offsetof(GuardObject, snapshot), READONLY, NULL},
    {"owner", T_OBJECT, offsetof(GuardObject, owner), READONLY, NULL},
    {"users", T_PYSSIZET, offsetof(GuardObject, users), READONLY, NULL},
    {"first", T_BOOL, offsetof(GuardObject, first), READONLY, NULL},
    {"born_locked", T_BOOL, offsetof(GuardObject, born_locked), READONLY, NULL},
    {NULL},
};

static PyTypeObject GuardType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ndgrad._core.Guard",
    .tp_doc = PyDoc_STR(
        "The memory of one array (and its views), as live nodes saved it between two writes.\n\n"
        "Calling it gives the first array it guards (held weakly: GradArrays point at the\n"
        "nodes that hold the guard), or None; ``first`` says whether it made that array\n"
        "read-only. ``saved`` is the plain array a node saved (``fp``: its fingerprint);\n"
        "``more`` holds any further ones, tagged (\"saved\": an (array, fingerprint) pair,\n"
        "\"array\": a weak reference to another GradArray made read-only, \"plain\": a plain\n"
        "array made read-only, counted in LOCKS). After a write ndgrad sees, ``snapshot`` maps\n"
        "id(saved array) to a copy of its old values (TAMPERED if it was found changed behind\n"
        "ndgrad's back before the copy); _RELEASED after a release with nothing to keep."),
    .tp_basicsize = sizeof(GuardObject),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)Guard_dealloc,
    .tp_call = (ternaryfunc)Guard_call,
    .tp_weaklistoffset = offsetof(GuardObject, weakreflist),
    .tp_methods = Guard_methods,
    .tp_members = Guard_members,
};

PyDoc_STRVAR(configure_guards_doc,
"configure_guards(LOCKS, GUARDED, STUCK, lock, RELEASED, graph_globals, SEALED_MARK,\n"
"                 check_saved)\n"
"--\n\n"
"Register what the guards share with ndgrad._graph (once): its tables, its re-entrant lock,\n"
"its globals (where fingerprint and sealed are found), and whether saved arrays are checked.");

static PyObject *
configure_guards(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8 || !PyDict_CheckExact(args[0]) || !PyDict_CheckExact(args[1])
        || !PyList_CheckExact(args[2]) || !PyDict_CheckExact(args[4])
        || !PyDict_Check(args[5])) {
        PyErr_SetString(PyExc_TypeError, "configure_guards(LOCKS: dict, GUARDED: dict, STUCK: "
                                         "list, lock, RELEASED: dict, graph_globals: dict, "
                                         "SEALED_MARK, check_saved)");
        return NULL;
    }
    int check = PyObject_IsTrue(args[7]);
    PyObject *acquire = PyObject_GetAttrString(args[3], "acquire");
    PyObject *release = PyObject_GetAttrString(args[3], "release");
    PyObject *setflags = PyObject_GetAttrString((PyObject *)&PyArray_Type, "setflags");
    PyObject *write_kw = Py_BuildValue("(s)", "write");
    if (check < 0 || acquire == NULL || release == NULL || setflags == NULL || write_kw == NULL) {
        Py_XDECREF(acquire);
        Py_XDECREF(release);
        Py_XDECREF(setflags);
        Py_XDECREF(write_kw);
        return NULL;
    }
    Py_XSETREF(Locks, Py_NewRef(args[0]));
    Py_XSETREF(Guarded, Py_NewRef(args[1]));
    Py_XSETREF(Stuck, Py_NewRef(args[2]));
    Py_XSETREF(LockAcquire, acquire);
    Py_XSETREF(LockRelease, release);
    Py_XSETREF(ReleasedMark, Py_NewRef(args[4]));
    Py_XSETREF(GraphGlobals, Py_NewRef(args[5]));
    Py_XSETREF(SealedMark, Py_NewRef(args[6]));
    Py_XSETREF(SetFlags, setflags);
    Py_XSETREF(WriteKw, write_kw);
    CheckSaved = check;
    Py_RETURN_NONE;
}

/* Append the four fields of a saved array's version entry (counter, seen, slot, hold; see
 * _graph._check_versions) to the list ``*versions``, made on the first entry (most nodes keep
 * none). 0 on success, -1 on error. */
static int
append_entry(PyObject **versions, PyObject *const entry[4])
{
    if (*versions == NULL && (*versions = PyList_New(0)) == NULL) {
        return -1;
    }
    for (int i = 0; i < 4; i++) {
        if (PyList_Append(*versions, entry[i]) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Keep operand ``slot`` for the node: ``*raw`` (owned) is replaced by a private copy when it is
 * small; a larger one is guarded and its version entry appended to ``*versions``
 * (append_entry). ``x`` is the operand as given (borrowed). 0 on success, -1 on error. */
static int
keep_operand(PyObject *x, PyObject **raw, Py_ssize_t slot, PyObject **versions)
{
    int grad_array = Py_TYPE(x) == GradArrayType;
    if (!grad_array && !PyArray_CheckExact(x)) {
        return 0;  /* a Python or NumPy scalar is immutable */
    }
    if (PyArray_NBYTES((PyArrayObject *)*raw) <= CopyBytes) {
        Py_SETREF(*raw, small_copy((PyArrayObject *)*raw));
        return *raw == NULL ? -1 : 0;
    }
    PyObject *entry[4];  /* counter, seen (both owned), what, hold */
    PyObject *hold;
    if (grad_array) {
        PyObject *counter = Py_NewRef(FIELD(x, off_version));
        PyObject *seen = PySequence_GetItem(counter, 0);
        if (seen == NULL) {
            Py_DECREF(counter);
            return -1;
        }
        hold = hold_saved(x, *raw, 0);
        entry[0] = counter;
        entry[1] = seen;  /* read before the guard is taken, as the Python route does */
    }
    else {
        hold = hold_plain(*raw);
        entry[0] = Py_NewRef(ConstantState);
        entry[1] = Py_NewRef(int_zero);
    }
    entry[2] = slot == 0 ? int_zero : int_one;
    entry[3] = hold;
    int rc = hold == NULL ? -1 : append_entry(versions, entry);
    Py_DECREF(entry[0]);
    Py_DECREF(entry[1]);
    Py_XDECREF(hold);
    return rc;
}

/* The version entry of a kept output: GradArray ``out``'s counter, its value, OUTPUT and the
 * hold on the guard of ``raw``, its memory, appended to ``*versions``. 0 on success, -1 on
 * error. */
static int
keep_output(PyObject *out, PyObject *raw, int fresh, PyObject **versions)
{
    PyObject *counter = Py_NewRef(FIELD(out, off_version));
    PyObject *seen = PySequence_GetItem(counter, 0);
    /* a result just made needs no fingerprint: no view of it exists yet */
    PyObject *hold = seen == NULL ? NULL : hold_saved(out, raw, fresh);
    PyObject *entry[4] = {counter, seen, int_output, hold};
    int rc = hold == NULL ? -1 : append_entry(versions, entry);
    Py_DECREF(counter);
    Py_XDECREF(seen);
    Py_XDECREF(hold);
    return rc;
}

/* What the rules of the operands in ``grad`` read: a new reference to the (saves, meta,
 * saves_ans) triple of Primitive.needs (its by_operands cache for the first two slots). */
static PyObject *
needs_of(PyObject *prim, PyObject **grad, Py_ssize_t n)
{
    int which = 0, beyond = 0;
    Py_ssize_t count = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (grad[i] != NULL) {
            count++;
            if (i < 2) {
                which |= 1 << i;
            }
            else {
                beyond = 1;
            }
        }
    }
    PyObject *needs;
    if (!beyond) {
        PyObject *by_operands = prim_slot(prim, off_by_operands, str_by_operands);
        if (by_operands == NULL) {
            return NULL;
        }
        needs = PyTuple_Check(by_operands) && PyTuple_GET_SIZE(by_operands) == 3
                    ? Py_NewRef(PyTuple_GET_ITEM(by_operands, which - 1)) : NULL;
        Py_DECREF(by_operands);
    }
    else {
        PyObject *slots = PyTuple_New(count);
        if (slots == NULL) {
            return NULL;
        }
        for (Py_ssize_t i = 0, k = 0; i < n; i++) {
            if (grad[i] != NULL) {
                PyObject *slot = PyLong_FromSsize_t(i);
                if (slot == NULL) {
                    Py_DECREF(slots);
                    return NULL;
                }
                PyTuple_SET_ITEM(slots, k++, slot);
            }
        }
        needs = PyObject_CallMethod(prim, "needs", "(O)", slots);
        Py_DECREF(slots);
        if (needs == NULL) {
            return NULL;
        }
    }
    if (needs == NULL || !PyTuple_Check(needs) || PyTuple_GET_SIZE(needs) != 3) {
        Py_XDECREF(needs);
        PyErr_SetString(PyExc_TypeError, "Primitive.needs: (saves, meta, saves_ans)");
        return NULL;
    }
    return needs;
}

/* A new tuple of ``n`` Nones, or NULL with an error. */
static PyObject *
none_tuple(Py_ssize_t n)
{
    PyObject *t = PyTuple_New(n);
    for (Py_ssize_t i = 0; t != NULL && i < n; i++) {
        PyTuple_SET_ITEM(t, i, Py_NewRef(Py_None));
    }
    return t;
}

/* Whether the set of argument positions ``seq`` (a frozenset, as Primitive.needs gives them,
 * or any container) holds ``i``: 1 or 0, -1 on error. Most are empty. */
static int
holds_index(PyObject *seq, Py_ssize_t i)
{
    if (PyAnySet_Check(seq) && PySet_GET_SIZE(seq) == 0) {
        return 0;
    }
    PyObject *slot = PyLong_FromSsize_t(i);
    int found = slot == NULL ? -1 : PySequence_Contains(seq, slot);
    Py_XDECREF(slot);
    return found;
}

/* Record the node of a call with positional operands ``inputs`` (as given: GradArrays, plain
 * arrays, other values), computed on ``raw`` (n owned references; a saved array may be replaced
 * by its private copy), of which ``grad`` (borrowed, NULL for the others) are the GradArrays in
 * a graph, and its one result ``res`` (an ndarray) wrapped as GradArray ``out``. ``fresh``:
 * ``res`` is memory the call just allocated (a ufunc's result). It is what ``_array.record_node``
 * does for such a call, written once here for the two compiled entry points. 0 on success,
 * -1 on error. */
static int
record_simple(PyObject *prim, PyObject *inputs, PyObject **raw, PyObject **grad, Py_ssize_t n,
              PyObject *kwargs, PyObject *res, PyObject *out, int fresh)
{
    PyObject *needs = NULL, *versions = NULL, *node_args = NULL, *ans = NULL;
    PyObject *versions_tuple = NULL, *node = NULL;
    int rc = -1;

    /* a plain view among the operands may alias memory in a graph: refused (by the one
     * function that checks and words it) */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(inputs, i);
        if (PyArray_CheckExact(x) && PyArray_BASE((PyArrayObject *)x) != NULL) {
            PyObject *name = PyObject_GetAttrString(prim, "name");
            PyObject *checked = name == NULL ? NULL : PyObject_CallFunctionObjArgs(
                                                          RefuseAliases, name, inputs, NULL);
            Py_XDECREF(name);
            if (checked == NULL) {
                return -1;
            }
            Py_DECREF(checked);
            break;
        }
    }
    needs = needs_of(prim, grad, n);
    if (needs == NULL) {
        return -1;
    }
    PyObject *saves = PyTuple_GET_ITEM(needs, 0), *meta = PyTuple_GET_ITEM(needs, 1);
    int saves_ans = PyObject_IsTrue(PyTuple_GET_ITEM(needs, 2));
    if (saves_ans < 0) {
        goto done;
    }
    /* node_args stays NULL while every argument so far is None (nothing to read) */
    for (Py_ssize_t i = 0; i < n; i++) {
        int kept = saves == Py_None ? 1 : holds_index(saves, i);
        int shaped = kept != 0 ? 0 : holds_index(meta, i);
        if (kept < 0 || shaped < 0) {
            goto done;
        }
        PyObject *value;  /* new */
        if (kept) {
            /* every saved array is kept safe from later writes, whether it requires grad or
             * not: a small one is copied, a larger one guarded */
            if (keep_operand(PyTuple_GET_ITEM(inputs, i), &raw[i], i, &versions) < 0) {
                goto done;
            }
            value = Py_NewRef(raw[i]);
        }
        else if (shaped) {
            /* only its shape and dtype are read */
            value = PyArray_CheckExact(raw[i]) ? meta_of_array((PyArrayObject *)raw[i])
                                               : PyObject_CallOneArg(Meta, raw[i]);
            if (value == NULL) {
                goto done;
            }
        }
        else if (node_args == NULL) {
            continue;
        }
        else {
            value = Py_NewRef(Py_None);
        }
        if (node_args == NULL && (node_args = none_tuple(n)) == NULL) {
            Py_DECREF(value);
            goto done;
        }
        Py_SETREF(PyTuple_GET_ITEM(node_args, i), value);
    }
    if (node_args == NULL) {  /* no argument is read: a shared tuple for small n */
        node_args = n <= N_NONE_TUPLES ? Py_NewRef(NoneTuples[n]) : none_tuple(n);
        if (node_args == NULL) {
            goto done;
        }
    }
    if (saves_ans) {
        if (PyArray_NBYTES((PyArrayObject *)res) <= CopyBytes) {
            ans = small_copy((PyArrayObject *)res);
        }
        else {
            ans = keep_output(out, res, fresh, &versions) < 0 ? NULL : Py_NewRef(res);
        }
        if (ans == NULL) {
            goto done;
        }
    }
    else {
        ans = Py_NewRef(Py_None);
    }
    /* (none kept: the empty tuple) */
    versions_tuple = versions == NULL ? Py_NewRef(EmptyTuple) : PyList_AsTuple(versions);
    if (versions_tuple == NULL) {
        goto done;
    }
    Py_ssize_t n_edges = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        n_edges += grad[i] != NULL;
    }
    NodeObject *made = node_alloc(n_edges);
    if (made == NULL) {
        goto done;
    }
    for (Py_ssize_t i = 0, e = 0; i < n; i++) {
        if (grad[i] != NULL && fill_edge(NODE_EDGE(made, e++), i, grad[i]) < 0) {
            Py_DECREF(made);
            goto done;
        }
    }
    PyObject *node_kwargs = kwargs != NULL && PyDict_GET_SIZE(kwargs) ? kwargs : NoKwargs;
    node = node_init(made, prim, node_args, node_kwargs, ans, versions_tuple, Py_None, Py_None);
    if (node == NULL) {
        goto done;
    }
    Py_XSETREF(FIELD(out, off_node), Py_NewRef(node));
    Py_XSETREF(FIELD(out, off_out), Py_NewRef(int_zero));
    if (alias_add(out) < 0) {
        goto done;
    }
    rc = 0;

done:
    Py_XDECREF(needs);
    Py_XDECREF(versions);
    Py_XDECREF(node_args);
    Py_XDECREF(ans);
    Py_XDECREF(versions_tuple);
    Py_XDECREF(node);
    return rc;
}

/* ``res`` (owned, stolen) as the GradArray a float or complex result becomes: an ndarray is
 * wrapped, a NumPy scalar becomes a 0-d GradArray marked as scalar-like (so does the 0-d array
 * ``out=...`` gave for what NumPy would have returned as a scalar, ``as_scalar``). ``*array``
 * receives the plain array under it (new). NULL with no error for a result of another kind
 * (``*array`` then holds ``res``). */
static PyObject *
wrap_float(PyObject *res, PyObject **array, int as_scalar)
{
    char kind;
    int scalar = !PyArray_CheckExact(res);
    *array = res;
    if (scalar) {
        PyArray_Descr *descr = PyArray_DescrFromScalar(res);  /* new */
        if (descr == NULL) {
            return NULL;
        }
        kind = descr->kind;
        Py_DECREF(descr);
    }
    else {
        kind = PyArray_DESCR((PyArrayObject *)res)->kind;
    }
    if (kind != 'f' && kind != 'c') {
        return NULL;
    }
    if (scalar) {
        *array = PyArray_FromScalar(res, NULL);
        Py_DECREF(res);
        if (*array == NULL) {
            return NULL;
        }
    }
    PyObject *out = PyArray_View((PyArrayObject *)*array, NULL, GradArrayType);
    if (out != NULL && (scalar || as_scalar)) {
        /* NumPy gave a scalar: in-place operators rebind it (see _array._SCALAR_LIKE) */
        PyObject *state = new_version(ScalarLike);
        if (state == NULL) {
            Py_CLEAR(out);
        }
        else {
            Py_XSETREF(FIELD(out, off_version), state);
        }
    }
    return out;
}

/* ``ufunc(*inputs)`` for one or two operands without keywords, wrapped and recorded: a new
 * reference; or NotImplemented for a call the general path (GradArray.array_ufunc_general)
 * must take: a tracked view, another array type, several outputs, a non-float result of dtype
 * object, a floating-point warning raised as an error, a ufunc without rules. */
static PyObject *
ufunc_call(PyObject *ufunc, PyObject *inputs)
{
    Py_ssize_t n = PyTuple_GET_SIZE(inputs);
    PyObject *raw[2] = {NULL, NULL};   /* owned */
    PyObject *grad[2] = {NULL, NULL};  /* borrowed: the operands in a graph */
    PyObject *res = NULL, *array = NULL, *out = NULL, *result = NULL;

    for (Py_ssize_t i = 0; i < n; i++) {
        int rc = classify(PyTuple_GET_ITEM(inputs, i), &raw[i], &grad[i], 1);
        if (rc > 0 && PyArray_Check(raw[i])
            && PyArray_DESCR((PyArrayObject *)raw[i])->kind == 'O') {
            rc = 0;  /* dtype=object: the general path, before the elements' methods run */
        }
        if (rc <= 0) {
            result = rc < 0 ? NULL : Py_NewRef(Py_NotImplemented);
            goto done;
        }
    }
    /* Operands all 0-d: NumPy would return a scalar, which wrap_float would turn back into a
     * 0-d array. ``out=...`` (NumPy 2.3 on) has the same loop write that array directly. */
    int zero_d = OutEllipsis != NULL;
    for (Py_ssize_t i = 0; i < n && zero_d; i++) {
        zero_d = PyArray_Check(raw[i]) ? PyArray_NDIM((PyArrayObject *)raw[i]) == 0
                                       : PyFloat_Check(raw[i]) || PyLong_Check(raw[i])
                                         || PyComplex_Check(raw[i])
                                         || PyArray_IsScalar(raw[i], Generic);
    }
    if (zero_d) {
        PyObject *stack[3] = {raw[0], raw[1], NULL};
        stack[n] = Py_Ellipsis;
        res = PyObject_Vectorcall(ufunc, stack, n, OutEllipsis);
    }
    else {
        res = PyObject_Vectorcall(ufunc, raw, n, NULL);
    }
    if (res == NULL) {
        if (PyErr_ExceptionMatches(PyExc_RuntimeWarning)) {
            /* a warning turned into an error: the general path reports it at the user's line */
            PyErr_Clear();
            result = Py_NewRef(Py_NotImplemented);
        }
        goto done;
    }
    if (!PyArray_CheckExact(res) && !PyArray_IsScalar(res, Generic)) {
        result = Py_NewRef(Py_NotImplemented);  /* several outputs (divmod, frexp, modf) */
        goto done;
    }
    out = wrap_float(res, &array, zero_d);  /* steals res */
    res = NULL;
    if (out == NULL) {
        if (!PyErr_Occurred()) {
            /* integer and boolean results never carry gradients; dtype=object: general path */
            int object = PyArray_CheckExact(array)
                         && PyArray_DESCR((PyArrayObject *)array)->kind == 'O';
            result = object ? Py_NewRef(Py_NotImplemented)
                     : zero_d && PyArray_CheckExact(array)  /* the scalar NumPy returns */
                         ? PyArray_Return((PyArrayObject *)Py_NewRef(array))
                         : Py_NewRef(array);
        }
        goto done;
    }
    int on = grad[0] != NULL || grad[1] != NULL ? grad_mode() : 0;
    if (on <= 0) {
        result = on < 0 ? NULL : Py_NewRef(out);
        goto done;
    }
    PyObject *prim = PyDict_GetItemWithError(VjpRules, ufunc);  /* borrowed */
    if (prim == NULL) {
        result = PyErr_Occurred() ? NULL : Py_NewRef(Py_NotImplemented);
        goto done;
    }
    Py_INCREF(prim);
    int rc = record_simple(prim, inputs, raw, grad, n, NULL, array, out, 1);
    Py_DECREF(prim);
    result = rc < 0 ? NULL : Py_NewRef(out);

done:
    Py_XDECREF(raw[0]);
    Py_XDECREF(raw[1]);
    Py_XDECREF(res);
    Py_XDECREF(array);
    Py_XDECREF(out);
    return result;
}

/* ------------------------------------------------------------------------------------------ */
/* ArrayBase: the compiled base of GradArray                                                   */

static PyObject *UfuncGeneral;     /* GradArray.array_ufunc_general (owned) */
static PyObject *FunctionGeneral;  /* GradArray.array_function_general (owned) */
static PyObject *CallPrimitive;    /* _array.call_primitive (owned) */
static PyObject *ErrstateVar;      /* NumPy's error-state ContextVar (_fpwarnings.ERRSTATE) */
static PyObject *UserErrstate;     /* _fpwarnings.user_errstate (owned) */
static PyObject *LastErrstate, *LastOurs;  /* its last argument and result (owned) */
static PyObject *str_call;         /* "__call__" */
static PyObject *str_implementation;  /* "_implementation" */

/* GradArray.__array_ufunc__(ufunc, method, *inputs, **kwargs): the common call (``ufunc(x)``
 * or ``ufunc(x, y)``, no keywords) by ufunc_call, without a Python frame; every other call,
 * and one that ufunc_call hands back, by the Python general path. New reference. */
static PyObject *
ArrayBase_array_ufunc(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (UfuncGeneral == NULL || GradArrayType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ndgrad._core.configure_array() was not called");
        return NULL;
    }
    if (nargs >= 3 && nargs <= 4 && (kwnames == NULL || PyTuple_GET_SIZE(kwnames) == 0)
        && PyUnicode_Check(args[1])
        && (args[1] == str_call || PyUnicode_Compare(args[1], str_call) == 0)) {
        PyObject *inputs = PyTuple_New(nargs - 2);
        if (inputs == NULL) {
            return NULL;
        }
        for (Py_ssize_t i = 2; i < nargs; i++) {
            PyTuple_SET_ITEM(inputs, i - 2, Py_NewRef(args[i]));
        }
        PyObject *done = ufunc_call(args[0], inputs);
        Py_DECREF(inputs);
        if (done != Py_NotImplemented) {
            return done;  /* the result, or NULL with the error */
        }
        Py_DECREF(done);
    }
    /* the general path: self prepended to the arguments */
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *small[8];
    PyObject **stack = nargs + nkw + 1 <= 8 ? small : PyMem_New(PyObject *, nargs + nkw + 1);
    if (stack == NULL) {
        return PyErr_NoMemory();
    }
    stack[0] = self;
    for (Py_ssize_t i = 0; i < nargs + nkw; i++) {
        stack[i + 1] = args[i];
    }
    PyObject *res = PyObject_Vectorcall(UfuncGeneral, stack, nargs + 1, kwnames);
    if (stack != small) {
        PyMem_Free(stack);
    }
    return res;
}

/* The error state a NumPy function computes under: _fpwarnings.user_errstate(), a new
 * reference (None: the context's own). That function depends only on the context's current
 * state, so its result is kept for the state it was computed for, as its Python cache does. */
static PyObject *
errstate_for_call(void)
{
    PyObject *current;
    if (PyContextVar_Get(ErrstateVar, NULL, &current) < 0) {
        return NULL;
    }
    if (current != NULL && current == LastErrstate) {
        Py_DECREF(current);
        return Py_NewRef(LastOurs);
    }
    PyObject *ours = PyObject_CallNoArgs(UserErrstate);
    if (ours == NULL) {
        Py_XDECREF(current);
        return NULL;
    }
    Py_XSETREF(LastErrstate, current);  /* the reference taken above */
    Py_XSETREF(LastOurs, Py_NewRef(ours));
    return ours;
}

static PyObject *function_fast(PyObject *module, PyObject *const *args, Py_ssize_t nargs);

/* ``impl(*args, **kwargs)`` for a function with a rule (``prim``): by function_fast, or by
 * _array.call_primitive for a call it hands back. New reference. */
static PyObject *
call_with_rule(PyObject *prim, PyObject *impl, PyObject *args, PyObject *kwargs)
{
    PyObject *call[4] = {prim, impl, args, kwargs};
    PyObject *done = function_fast(NULL, call, 4);
    if (done == Py_NotImplemented) {
        Py_DECREF(done);
        done = PyObject_Vectorcall(CallPrimitive, call, 4, NULL);
    }
    return done;
}

/* GradArray.__array_function__(func, types, args, kwargs): a function with a gradient rule,
 * called with GradArrays as the only overriding type (NumPy also lists ndarray for a function
 * written in C), by function_fast (or call_primitive) under
 * the user's error state, without a Python frame; every other call by the Python general path
 * (GradArray.array_function_general), which does the same for these. New reference. */
static PyObject *
ArrayBase_array_function(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (FunctionGeneral == NULL || GradArrayType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ndgrad._core.configure_array() was not called");
        return NULL;
    }
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "__array_function__(func, types, args, kwargs)");
        return NULL;
    }
    PyObject *func = args[0], *types = args[1], *fargs = args[2], *kwargs = args[3];
    PyObject *prim = NULL;  /* borrowed */
    int common = PyTuple_CheckExact(types) && PyTuple_CheckExact(fargs) && PyDict_Check(kwargs);
    for (Py_ssize_t i = 0; common && i < PyTuple_GET_SIZE(types); i++) {
        /* NumPy's functions written in C (np.where, np.concatenate, np.dot) list ndarray too
         * when a plain array is among the arguments: it overrides nothing */
        PyObject *t = PyTuple_GET_ITEM(types, i);
        common = t == (PyObject *)GradArrayType || t == (PyObject *)&PyArray_Type;
    }
    if (common) {
        prim = PyDict_GetItemWithError(VjpRules, func);
        if (prim == NULL && PyErr_Occurred()) {
            return NULL;
        }
    }
    if (prim == NULL) {
        PyObject *call[5] = {self, func, types, fargs, kwargs};
        return PyObject_Vectorcall(FunctionGeneral, call, 5, NULL);
    }
    Py_INCREF(prim);  /* the table may change while the function runs */
    PyObject *impl = PyObject_GetAttr(func, str_implementation);
    PyObject *state = impl == NULL ? NULL : errstate_for_call();
    PyObject *token = NULL, *done = NULL;
    if (state != NULL && state != Py_None) {
        token = PyContextVar_Set(ErrstateVar, state);
    }
    if (state != NULL && (state == Py_None || token != NULL)) {
        done = call_with_rule(prim, impl, fargs, kwargs);
    }
    if (token != NULL) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyContextVar_Reset(ErrstateVar, token) < 0) {
            PyErr_WriteUnraisable(ErrstateVar);
        }
        PyErr_Restore(type, value, tb);
        Py_DECREF(token);
    }
    Py_XDECREF(state);
    Py_XDECREF(impl);
    Py_DECREF(prim);
    return done;
}

static PyObject *GetitemImpl;  /* _array.getitem_impl, what getitem computes (owned) */

/* GradArray.__getitem__ (ArrayBase's mapping slot): ``x[key]`` by function_fast, or
 * call_primitive, as GradArray.getitem_general does it in Python. New reference. */
static PyObject *
ArrayBase_subscript(PyObject *self, PyObject *key)
{
    if (GetitemImpl == NULL || GradArrayType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ndgrad._core.configure_array() was not called");
        return NULL;
    }
    PyObject *prim = PyDict_GetItemWithError(VjpRules, GetitemKey);  /* borrowed */
    if (prim == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetObject(PyExc_KeyError, GetitemKey);
        }
        return NULL;
    }
    PyObject *operands = PyTuple_Pack(2, self, key);
    if (operands == NULL) {
        return NULL;
    }
    Py_INCREF(prim);
    PyObject *done = call_with_rule(prim, GetitemImpl, operands, NoKwargs);
    Py_DECREF(prim);
    Py_DECREF(operands);
    return done;
}

static PyMappingMethods ArrayBase_as_mapping = {
    .mp_subscript = ArrayBase_subscript,  /* mp_length and mp_ass_subscript: inherited */
};

/* The arithmetic operators. For operands whose only NumPy override is GradArray's own, and for
 * which NumPy's operators never defer (a GradArray, a plain ndarray, a Python float, int or
 * complex, a NumPy scalar), ``x + y`` is ``np.add(x, y)``, which NumPy hands to
 * ``__array_ufunc__`` and so to ufunc_call: called here directly, without NumPy's operator,
 * override search and argument building. Anything else, and a call ufunc_call hands back, takes
 * ndarray's own operator, as before (``**``: below). */
static PyObject *UfuncAdd, *UfuncSubtract, *UfuncMultiply, *UfuncTrueDivide, *UfuncMatmul,
    *UfuncNegative;  /* np.add, ... (owned) */

static inline int
direct_operand(PyObject *x)
{
    PyTypeObject *t = Py_TYPE(x);
    return t == GradArrayType || t == &PyArray_Type || t == &PyFloat_Type || t == &PyLong_Type
           || t == &PyComplex_Type || PyArray_IsScalar(x, Generic);
}

static PyObject *
operator_call(PyObject *ufunc, PyObject *v, PyObject *w)
{
    if (ufunc == NULL || GradArrayType == NULL || !direct_operand(v)
        || (w != NULL && !direct_operand(w))) {
        return Py_NewRef(Py_NotImplemented);
    }
    PyObject *inputs = w == NULL ? PyTuple_Pack(1, v) : PyTuple_Pack(2, v, w);
    if (inputs == NULL) {
        return NULL;
    }
    PyObject *done = ufunc_call(ufunc, inputs);
    Py_DECREF(inputs);
    return done;
}

#define ARRAYBASE_BINARY(name, ufunc, slot)                                                    \
    static PyObject *name(PyObject *v, PyObject *w)                                            \
    {                                                                                          \
        PyObject *done = operator_call(ufunc, v, w);                                           \
        if (done != Py_NotImplemented) {                                                       \
            return done;                                                                       \
        }                                                                                      \
        Py_DECREF(done);                                                                       \
        return PyArray_Type.tp_as_number->slot(v, w);                                          \
    }

ARRAYBASE_BINARY(ArrayBase_add, UfuncAdd, nb_add)
ARRAYBASE_BINARY(ArrayBase_subtract, UfuncSubtract, nb_subtract)
ARRAYBASE_BINARY(ArrayBase_multiply, UfuncMultiply, nb_multiply)
ARRAYBASE_BINARY(ArrayBase_true_divide, UfuncTrueDivide, nb_true_divide)
ARRAYBASE_BINARY(ArrayBase_matrix_multiply, UfuncMatmul, nb_matrix_multiply)

static PyObject *
ArrayBase_negative(PyObject *v)
{
    PyObject *done = operator_call(UfuncNegative, v, NULL);
    if (done != Py_NotImplemented) {
        return done;
    }
    Py_DECREF(done);
    return PyArray_Type.tp_as_number->nb_negative(v);
}

/* ``x ** e``: NumPy's operator computes some powers of a float or complex array with other
 * ufuncs (``x ** 2`` is ``np.square(x)``). ``PowerShortcuts`` holds what it calls for common
 * exponents, read off the NumPy in use (_array._numpy_power_shortcuts): ``{(type(e), e):
 * ufunc}``, ``np.power`` meaning ``np.power(x, e)``. Those are called directly; any other
 * exponent, base or operand order takes ndarray's own operator. */
static PyObject *PowerShortcuts, *UfuncPower;  /* owned */

static PyObject *
ArrayBase_power(PyObject *v, PyObject *w, PyObject *mod)
{
    if (mod == Py_None && PowerShortcuts != NULL && UfuncPower != NULL && GradArrayType != NULL
        && Py_TYPE(v) == GradArrayType && (PyLong_CheckExact(w) || PyFloat_CheckExact(w))
        && (PyArray_DESCR((PyArrayObject *)v)->kind == 'f'
            || PyArray_DESCR((PyArrayObject *)v)->kind == 'c')) {
        PyObject *key = PyTuple_Pack(2, (PyObject *)Py_TYPE(w), w);
        if (key == NULL) {
            return NULL;
        }
        PyObject *ufunc = PyDict_GetItemWithError(PowerShortcuts, key);  /* borrowed */
        Py_DECREF(key);
        if (ufunc == NULL && PyErr_Occurred()) {
            return NULL;
        }
        if (ufunc != NULL) {
            PyObject *done = operator_call(ufunc, v, ufunc == UfuncPower ? w : NULL);
            if (done != Py_NotImplemented) {
                return done;
            }
            Py_DECREF(done);
        }
    }
    return PyArray_Type.tp_as_number->nb_power(v, w, mod);
}

static PyNumberMethods ArrayBase_as_number = {  /* the other slots: ndarray's, inherited */
    .nb_add = ArrayBase_add,
    .nb_subtract = ArrayBase_subtract,
    .nb_multiply = ArrayBase_multiply,
    .nb_true_divide = ArrayBase_true_divide,
    .nb_matrix_multiply = ArrayBase_matrix_multiply,
    .nb_negative = ArrayBase_negative,
    .nb_power = ArrayBase_power,
};

static PyObject *ArrayBase_array_finalize(PyObject *self, PyObject *obj);  /* below */

static PyMethodDef ArrayBase_methods[] = {
    {"__array_ufunc__", (PyCFunction)(void (*)(void))ArrayBase_array_ufunc,
     METH_FASTCALL | METH_KEYWORDS,
     "NumPy's override of ufunc calls: the common call compiled, the rest in Python."},
    {"__array_function__", (PyCFunction)(void (*)(void))ArrayBase_array_function,
     METH_FASTCALL,
     "NumPy's override of function calls: a function with a rule compiled, the rest in "
     "Python."},
    {"__array_finalize__", (PyCFunction)ArrayBase_array_finalize, METH_O,
     "Make a new GradArray a constant with its version counter (see _core.c)."},
    {NULL},
};

/* The buffer protocol (memoryview(x), np.frombuffer(x), bytes(x), a compiled function's typed
 * memoryview) hands out the values without the graph. For an array in a graph,
 * _array._buffer_export decides (refused inside a transform or nd.tracing() with grad mode on,
 * as float(x) and x.tolist() are); NumPy's own export otherwise. */
static PyBufferProcs ArrayBase_as_buffer;  /* ndarray's, with getbuffer replaced (module init) */

static int
ArrayBase_getbuffer(PyObject *self, Py_buffer *view, int flags)
{
    PyObject *node = GradArrayType != NULL && PyObject_TypeCheck(self, GradArrayType)
                         ? FIELD(self, off_node) : NULL;
    if (node != NULL && node != Py_None && BufferExport != NULL) {
        PyObject *error = PyObject_CallOneArg(BufferExport, self);
        if (error == NULL) {
            return -1;
        }
        if (error != Py_None) {
            PyErr_SetObject((PyObject *)Py_TYPE(error), error);
            Py_DECREF(error);
            return -1;
        }
        Py_DECREF(error);
    }
    return PyArray_Type.tp_as_buffer->bf_getbuffer(self, view, flags);
}

/* An array leaves the alias table as it dies, before NumPy frees it. */
static void
ArrayBase_dealloc(PyObject *self)
{
    alias_remove(self);
    PyArray_Type.tp_dealloc(self);
}

static PyTypeObject ArrayBaseType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ndgrad._core.ArrayBase",
    .tp_dealloc = ArrayBase_dealloc,
    .tp_as_buffer = &ArrayBase_as_buffer,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The compiled base of GradArray: its NumPy overrides and __array_finalize__.",
    .tp_methods = ArrayBase_methods,
    .tp_as_mapping = &ArrayBase_as_mapping,
    .tp_as_number = &ArrayBase_as_number,
};

/* Keyword values that hold no array (axis=1, keepdims=True): nothing to unwrap or check. */
static inline int
is_plain_keyword(PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    return v == Py_None || t == &PyLong_Type || t == &PyBool_Type || t == &PyFloat_Type
           || t == &PyUnicode_Type;
}

/* A tuple of Python ints, None, Ellipsis and slices of ints (a shape, an index): it holds no
 * array, so there is nothing in it to unwrap or check, as for a plain keyword value. */
static int
is_plain_tuple(PyObject *v)
{
    if (!PyTuple_CheckExact(v)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(v); i++) {
        PyObject *item = PyTuple_GET_ITEM(v, i);
        if (PySlice_Check(item)) {
            PySliceObject *sl = (PySliceObject *)item;
            PyObject *parts[3] = {sl->start, sl->stop, sl->step};
            for (int k = 0; k < 3; k++) {
                if (parts[k] != Py_None && !PyLong_CheckExact(parts[k])) {
                    return 0;
                }
            }
        }
        else if (!(item == Py_None || item == Py_Ellipsis || PyLong_CheckExact(item))) {
            return 0;
        }
    }
    return 1;
}

PyDoc_STRVAR(function_fast_doc,
"function_fast(prim, impl, args, kwargs)\n"
"--\n\n"
"_array.call_primitive for the common call: positional GradArrays, plain arrays, tuples of ints,\n"
"None, Ellipsis and slices (shapes, indices) and other values that are not sequences, and plain\n"
"keyword values (no out=, none that names a positional argument); recorded when an operand is\n"
"in a graph and grad mode is on, else only computed, wrapped and (a view) tracked.\n"
"NotImplemented, before anything is computed, for any other call; a result other than one float\n"
"array or scalar is handed to _array.finish_call.");

/* A new list of the ``n`` objects ``items`` (new references to them). */
static PyObject *
list_of(PyObject *const *items, Py_ssize_t n)
{
    PyObject *list = PyList_New(n);
    for (Py_ssize_t k = 0; list != NULL && k < n; k++) {
        PyList_SET_ITEM(list, k, Py_NewRef(items[k]));
    }
    return list;
}

static PyObject *
function_fast(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyTuple_Check(args[2]) || !(args[3] == Py_None || PyDict_Check(args[3]))) {
        PyErr_SetString(PyExc_TypeError, "function_fast(prim, impl, args: tuple, kwargs: dict)");
        return NULL;
    }
    if (GradArrayType == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ndgrad._core.configure_array() was not called");
        return NULL;
    }
    PyObject *prim = args[0], *impl = args[1], *inputs = args[2];
    PyObject *kwargs = args[3] == Py_None || PyDict_GET_SIZE(args[3]) == 0 ? NULL : args[3];
    Py_ssize_t n = PyTuple_GET_SIZE(inputs);
    if (n > 8) {
        return Py_NewRef(Py_NotImplemented);
    }
    if (kwargs != NULL) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        while (PyDict_Next(kwargs, &pos, &key, &value)) {
            if (!is_plain_keyword(value)
                || PyUnicode_CompareWithASCIIString(key, "out") == 0) {
                return Py_NewRef(Py_NotImplemented);
            }
        }
        /* a keyword that names a positional argument (weights=w) is moved by the general path */
        PyObject *positional = prim_slot(prim, off_positional, str_positional);
        if (positional == NULL) {
            return NULL;
        }
        int moved = 0;
        for (Py_ssize_t i = n; PyTuple_Check(positional) && i < PyTuple_GET_SIZE(positional)
                               && !moved; i++) {
            moved = PyDict_Contains(kwargs, PyTuple_GET_ITEM(positional, i));
        }
        Py_DECREF(positional);
        if (moved != 0) {
            return moved < 0 ? NULL : Py_NewRef(Py_NotImplemented);
        }
    }
    PyObject *raw[8] = {NULL};    /* owned */
    PyObject *grad[8] = {NULL};   /* borrowed */
    PyObject *res = NULL, *array = NULL, *out = NULL, *result = NULL;
    int any_grad = 0;
    Py_ssize_t i = 0;
    for (; i < n; i++) {
        PyObject *x = PyTuple_GET_ITEM(inputs, i);
        int rc;
        if (is_plain_tuple(x)) {
            raw[i] = Py_NewRef(x);
            rc = 1;
        }
        else if (PyList_Check(x) || PyTuple_Check(x)) {
            rc = 0;  /* may hold GradArrays: the general path unwraps sequences */
        }
        else if (Py_TYPE(x) == GradArrayType || PyArray_CheckExact(x)) {
            rc = classify(x, &raw[i], &grad[i], 0);
        }
        else if (PyArray_Check(x)) {
            rc = 0;  /* another ndarray subclass: refused or unwrapped by the general path */
        }
        else {
            raw[i] = Py_NewRef(x);
            rc = 1;
        }
        if (rc <= 0) {
            result = rc < 0 ? NULL : Py_NewRef(Py_NotImplemented);
            goto done;
        }
        any_grad |= grad[i] != NULL;
    }
    /* Nothing to record (no operand in a graph, or grad mode off): computed and wrapped the
     * same way, views tracked, as the Python tail does then (finish_call records nothing). */
    int on = any_grad ? grad_mode() : 0;
    if (on < 0) {
        goto done;
    }
    /* NumPy's equal array method (ndarray.sum for np.sum) when the first argument is a plain
     * ndarray and the others Python values (not NumPy's internal no-value marker, which only
     * the function takes): the function's Python wrapper is skipped */
    PyObject *method = prim_slot(prim, off_array_method, str_array_method);  /* new */
    if (method == NULL) {
        goto done;
    }
    int plain = method != Py_None && n >= 1 && PyArray_CheckExact(raw[0]);
    for (Py_ssize_t k = 1; plain && k < n; k++) {
        plain = is_plain_keyword(raw[k]) || is_plain_tuple(raw[k]);
    }
    res = PyObject_VectorcallDict(plain ? method : impl, raw, n, kwargs);
    Py_DECREF(method);
    if (res == NULL) {
        goto done;
    }
    /* a NumPy scalar becomes a new 0-d array: memory nothing else refers to, as a ufunc's
     * result is (an array the function returned may be one of its arguments, or theirs) */
    int fresh = PyArray_IsScalar(res, Floating) || PyArray_IsScalar(res, ComplexFloating);
    if (fresh || (PyArray_CheckExact(res) && PyArray_BASE((PyArrayObject *)res) == NULL)) {
        out = wrap_float(Py_NewRef(res), &array, 0);
        if (out == NULL && PyErr_Occurred()) {
            goto done;
        }
    }
    else if (PyArray_CheckExact(res)) {
        /* a view (x[1:], x.T, np.reshape(x, s)): wrapped, and made a tracked view of the
         * GradArray whose memory it shares by _inplace.track_views, as the Python tail does,
         * before it is recorded here */
        out = wrap_float(Py_NewRef(res), &array, 0);
        if (out == NULL && PyErr_Occurred()) {
            goto done;
        }
        if (out != NULL) {
            PyObject *raw_list = list_of(raw, n);
            PyObject *call[6] = {out, inputs, raw_list, prim, impl,
                                 kwargs != NULL ? kwargs : NoKwargs};
            PyObject *tracked = raw_list == NULL ? NULL
                                                 : PyObject_Vectorcall(TrackViews, call, 6, NULL);
            Py_XDECREF(raw_list);
            if (tracked == NULL) {
                goto done;
            }
            Py_DECREF(tracked);
        }
    }
    if (out == NULL) {
        /* a tuple, a Python float, an integer result...: the general path's tail */
        PyObject *raw_list = list_of(raw, n), *grad_inputs = PyList_New(0);
        for (Py_ssize_t k = 0; raw_list != NULL && grad_inputs != NULL && k < n; k++) {
            if (grad[k] != NULL) {
                PyObject *entry = Py_BuildValue("(nOO)", k, Py_None, grad[k]);
                if (entry == NULL || PyList_Append(grad_inputs, entry) < 0) {
                    Py_XDECREF(entry);
                    Py_CLEAR(grad_inputs);
                    break;
                }
                Py_DECREF(entry);
            }
        }
        if (raw_list != NULL && grad_inputs != NULL) {
            PyObject *call[7] = {prim, impl, inputs, raw_list,
                                 kwargs != NULL ? kwargs : NoKwargs, grad_inputs, res};
            result = PyObject_Vectorcall(FinishCall, call, 7, NULL);
        }
        Py_XDECREF(raw_list);
        Py_XDECREF(grad_inputs);
        goto done;
    }
    if (!on || record_simple(prim, inputs, raw, grad, n, kwargs, array, out, fresh) == 0) {
        result = Py_NewRef(out);
    }

done:
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_XDECREF(raw[k]);
    }
    Py_XDECREF(res);
    Py_XDECREF(array);
    Py_XDECREF(out);
    return result;
}

PyDoc_STRVAR(configure_array_doc,
"configure_array(GradArray, VJP_RULES, grad_enabled_var, COPY_BYTES, CONSTANT_STATE,\n"
"                scalar_tag, refuse_aliases, array_meta, finish_call, Edge, ufunc_general, object_cast,\n"
"                function_general, call_primitive, errstate_var, user_errstate,\n"
"                getitem_impl, track_views, out_ellipsis, power_shortcuts, buffer_export)\n"
"--\n\n"
"Register what the compiled entry points need of the array type (ndgrad._array, once).");

static PyObject *
configure_array(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 21 || !PyType_Check(args[0]) || !PyDict_Check(args[1]) || !PyDict_Check(args[19])
        || !PyContextVar_CheckExact(args[2]) || !PyLong_Check(args[3])
        || !PyContextVar_CheckExact(args[14])
        || !PyType_Check(args[9]) || !PyType_IsSubtype((PyTypeObject *)args[9], &PyTuple_Type)
        || !PyType_IsSubtype((PyTypeObject *)args[0], &ArrayBaseType)) {
        PyErr_SetString(PyExc_TypeError, "configure_array: wrong arguments");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)args[0];
    Py_ssize_t node = slot_offset(type, "_node"), out = slot_offset(type, "_out");
    Py_ssize_t base_ga = slot_offset(type, "_base_ga"), version = slot_offset(type, "_version");
    Py_ssize_t grad = slot_offset(type, "_grad"), view_fn = slot_offset(type, "_view_fn");
    Py_ssize_t seen = slot_offset(type, "_seen");
    Py_ssize_t copy_bytes = PyLong_AsSsize_t(args[3]);
    if (node < 0 || out < 0 || base_ga < 0 || version < 0 || grad < 0 || view_fn < 0 || seen < 0
        || PyErr_Occurred()) {
        return NULL;
    }
    off_node = node;
    off_out = out;
    off_base_ga = base_ga;
    off_version = version;
    off_grad = grad;
    off_view_fn = view_fn;
    off_seen = seen;
    CopyBytes = copy_bytes;
    Py_XSETREF(GradArrayType, (PyTypeObject *)Py_NewRef(args[0]));
    PyObject **slots[] = {&VjpRules, &GradEnabledVar, NULL, &ConstantState, &ScalarLike,
                          &RefuseAliases, &Meta, &FinishCall};
    for (int i = 0; i < 8; i++) {
        if (slots[i] != NULL) {
            Py_XSETREF(*slots[i], Py_NewRef(args[i + 1]));
        }
    }
    Py_XSETREF(EdgeType, (PyTypeObject *)Py_NewRef(args[9]));
    Py_XSETREF(UfuncGeneral, Py_NewRef(args[10]));
    Py_XSETREF(ObjectCast, Py_NewRef(args[11]));
    Py_XSETREF(FunctionGeneral, Py_NewRef(args[12]));
    Py_XSETREF(CallPrimitive, Py_NewRef(args[13]));
    Py_XSETREF(ErrstateVar, Py_NewRef(args[14]));
    Py_XSETREF(UserErrstate, Py_NewRef(args[15]));
    Py_XSETREF(GetitemImpl, Py_NewRef(args[16]));
    Py_XSETREF(TrackViews, Py_NewRef(args[17]));
    int out_ellipsis = PyObject_IsTrue(args[18]);
    if (out_ellipsis < 0) {
        return NULL;
    }
    PyObject *numpy = PyImport_ImportModule("numpy");
    if (numpy == NULL) {
        return NULL;
    }
    struct { PyObject **slot; const char *name; } ops[] = {
        {&UfuncAdd, "add"}, {&UfuncSubtract, "subtract"}, {&UfuncMultiply, "multiply"},
        {&UfuncTrueDivide, "true_divide"}, {&UfuncMatmul, "matmul"},
        {&UfuncNegative, "negative"}, {&UfuncPower, "power"},
    };
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
        PyObject *ufunc = PyObject_GetAttrString(numpy, ops[i].name);
        if (ufunc == NULL) {
            Py_DECREF(numpy);
            return NULL;
        }
        Py_XSETREF(*ops[i].slot, ufunc);
    }
    Py_DECREF(numpy);
    Py_XSETREF(PowerShortcuts, Py_NewRef(args[19]));
    Py_XSETREF(BufferExport, Py_NewRef(args[20]));
    Py_CLEAR(OutEllipsis);
    if (out_ellipsis && (OutEllipsis = Py_BuildValue("(s)", "out")) == NULL) {
        return NULL;
    }
    Py_CLEAR(LastErrstate);
    Py_CLEAR(LastOurs);
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* GradArray.__array_finalize__                                                                 */

/* ``GradArray.__array_finalize__(obj)`` (ArrayBase's): NumPy calls it for every new GradArray,
 * ``obj`` being the array it was made from (or None). The new array is a constant, not in a
 * graph, with no gradient; it shares the version counter of a GradArray it views (NumPy made
 * a view of it without ndgrad: a C-level method), and has a new one, ``[writes, guard]`` =
 * ``[0, None]``, otherwise. An object array made from an array in a graph (np.vectorize,
 * np.frompyfunc) would cut the graph silently: refused while grad mode is on. */
static PyObject *
ArrayBase_array_finalize(PyObject *self, PyObject *obj)
{
    if (GradArrayType == NULL || !PyObject_TypeCheck(self, GradArrayType)) {
        PyErr_SetString(PyExc_TypeError, "__array_finalize__: a GradArray's, after "
                                         "ndgrad._core.configure_array()");
        return NULL;
    }
    PyObject *version;
    int in_graph = 0;
    if (PyObject_TypeCheck(obj, GradArrayType) && FIELD(obj, off_version) != NULL) {
        version = Py_NewRef(FIELD(obj, off_version));
        in_graph = FIELD(obj, off_node) != NULL && FIELD(obj, off_node) != Py_None;
    }
    else {
        version = new_version(NULL);
        if (version == NULL) {
            return NULL;
        }
    }
    Py_XSETREF(FIELD(self, off_node), Py_NewRef(Py_None));
    Py_XSETREF(FIELD(self, off_out), Py_NewRef(int_zero));
    Py_XSETREF(FIELD(self, off_grad), Py_NewRef(Py_None));
    Py_XSETREF(FIELD(self, off_base_ga), Py_NewRef(Py_None));
    Py_XSETREF(FIELD(self, off_view_fn), Py_NewRef(Py_None));
    Py_XSETREF(FIELD(self, off_seen), Py_NewRef(int_zero));
    Py_XSETREF(FIELD(self, off_version), version);
    PyArrayObject *a = (PyArrayObject *)self;
    if (in_graph && PyArray_DESCR(a)->type_num == NPY_OBJECT && PyArray_SIZE(a) > 0) {
        int on = grad_mode();
        if (on < 0) {
            return NULL;
        }
        if (on) {
            PyObject *error = PyObject_CallNoArgs(ObjectCast);
            if (error != NULL) {
                PyErr_SetObject((PyObject *)Py_TYPE(error), error);
                Py_DECREF(error);
            }
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* fingerprint: the column sums of an array's bytes, in one pass over memory                   */

static inline npy_uint64
word_at(const unsigned char *bytes, npy_intp k)
{
    npy_uint64 word;
    memcpy(&word, bytes + 8 * k, 8);  /* the bytes need not be aligned to 8 */
    return word;
}

/* The words are laid out in rows of ``width`` (the last one shorter): each column and each row
 * is summed. BLOCK whole rows at a time: each column's BLOCK words are summed in registers and
 * the column sum read and written once, and each row's sum is a register of its own, so every
 * word is read from memory once (the compiler makes each of these a vector of four words). */
enum { BLOCK = 8 };
_Static_assert(BLOCK == 8, "add_block sums eight rows, one register each");

#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__)
/* Compiled twice, picked when the module loads: AVX2 adds four words at once. */
__attribute__((target_clones("avx2", "default")))
#endif
static void
add_block(npy_uint64 *restrict columns, npy_uint64 *restrict rows, npy_intp width,
          const unsigned char *restrict p)
{
    npy_uint64 r0 = 0, r1 = 0, r2 = 0, r3 = 0, r4 = 0, r5 = 0, r6 = 0, r7 = 0;
    for (npy_intp i = 0; i < width; i++) {
        npy_uint64 w0 = word_at(p, i), w1 = word_at(p, width + i);
        npy_uint64 w2 = word_at(p, 2 * width + i), w3 = word_at(p, 3 * width + i);
        npy_uint64 w4 = word_at(p, 4 * width + i), w5 = word_at(p, 5 * width + i);
        npy_uint64 w6 = word_at(p, 6 * width + i), w7 = word_at(p, 7 * width + i);
        columns[i] += ((w0 + w1) + (w2 + w3)) + ((w4 + w5) + (w6 + w7));
        r0 += w0, r1 += w1, r2 += w2, r3 += w3, r4 += w4, r5 += w5, r6 += w6, r7 += w7;
    }
    rows[0] += r0, rows[1] += r1, rows[2] += r2, rows[3] += r3;
    rows[4] += r4, rows[5] += r5, rows[6] += r6, rows[7] += r7;
}

/* About 128 rows of at most 2048 words (longer if sqrt(n) is): the column sums (16 kB at most)
 * stay in the L1 cache while the array streams past; the fingerprint stays below 2 % of the
 * array. */
enum { FP_ROWS = 128, FP_MAX_ROW = 2048 };

/* The fingerprint of ``size`` bytes (see fingerprint's docstring) in about ``rows`` rows of
 * at most ``max_row`` words: a new uint64 array. */
static PyObject *
fingerprint_of(const unsigned char *bytes, npy_intp size, npy_intp rows, npy_intp max_row)
{
    npy_intp n = size >> 3;
    npy_intp w = 0, length;
    if (n < 64) {
        length = n + 1;  /* the words themselves */
    }
    else {
        /* about ``rows`` rows of at most ``max_row`` words, and at least sqrt(n) */
        npy_intp root = 0;
        while ((root + 1) * (root + 1) <= n) {  /* isqrt(n), without floating point */
            root++;
        }
        npy_intp per_row = (n + rows - 1) / rows;
        per_row = per_row < max_row ? per_row : max_row;
        w = root > per_row ? root : per_row;
        length = w + (n + w - 1) / w + 1;  /* the columns, the rows, the last bytes */
    }
    npy_intp dims[1] = {length};
    PyArrayObject *out = (PyArrayObject *)PyArray_ZEROS(1, dims, NPY_UINT64, 0);
    if (out == NULL) {
        return NULL;
    }
    npy_uint64 *sums = (npy_uint64 *)PyArray_DATA(out);
    Py_BEGIN_ALLOW_THREADS
    if (n < 64) {
        for (npy_intp k = 0; k < n; k++) {
            sums[k] = word_at(bytes, k);
        }
    }
    else {
        npy_uint64 *columns = sums, *row_sums = sums + w;
        npy_intp row = 0;
        for (; (row + BLOCK) * w <= n; row += BLOCK) {
            add_block(columns, row_sums + row, w, bytes + 8 * row * w);
        }
        for (npy_intp k = row * w; k < n; k++) {  /* fewer than BLOCK rows, the last short */
            npy_uint64 word = word_at(bytes, k);
            columns[k % w] += word;
            row_sums[k / w] += word;
        }
    }
    npy_uint64 tail = 0;
    for (npy_intp i = size - 1; i >= 8 * n; i--) {  /* little-endian: the last byte is highest */
        tail = (tail << 8) | bytes[i];
    }
    sums[length - 1] = tail;
    Py_END_ALLOW_THREADS
    return (PyObject *)out;
}

PyDoc_STRVAR(fingerprint_bytes_doc,
"fingerprint_bytes(b, rows, max_row)\n"
"--\n\n"
"The fingerprint of the C-contiguous uint8 array ``b`` (see fingerprint for what it is and\n"
"why it detects any single change and any swap): its n 64-bit words laid out in rows of ``w``\n"
"words (the last one shorter), the sum modulo 2**64 of each column then of each row, then the\n"
"bytes after the last whole word as one little-endian number; fewer than 64 words are kept\n"
"themselves. Every word is read once. ``rows`` and ``max_row`` choose ``w``.");

static PyObject *
fingerprint_bytes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyArray_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "fingerprint_bytes(b: ndarray, rows: int, max_row: int)");
        return NULL;
    }
    PyArrayObject *b = (PyArrayObject *)args[0];
    Py_ssize_t rows = PyLong_AsSsize_t(args[1]), max_row = PyLong_AsSsize_t(args[2]);
    if ((rows == -1 || max_row == -1) && PyErr_Occurred()) {
        return NULL;
    }
    if (PyArray_NDIM(b) != 1 || PyArray_TYPE(b) != NPY_UINT8 || !PyArray_IS_C_CONTIGUOUS(b)
        || rows < 1 || max_row < 1) {
        PyErr_SetString(PyExc_ValueError,
                        "fingerprint_bytes: b must be a 1-d C-contiguous uint8 array");
        return NULL;
    }
    return fingerprint_of((const unsigned char *)PyArray_DATA(b), PyArray_DIM(b, 0), rows,
                          max_row);
}

PyDoc_STRVAR(fingerprint_doc,
"fingerprint(a) -> ndarray | None\n"
"--\n\n"
"A position-dependent fingerprint of the bytes of the ndarray ``a``: a small uint64 array,\n"
"or None.\n\n"
"The bytes are read as n 64-bit words laid out in rows of ``w`` words (about 128 rows, the\n"
"last one shorter), and each column and each row is summed (modulo 2**64); the bytes that do\n"
"not fill a last word (fewer than 8) are kept as they are, and fewer than 64 words are kept\n"
"themselves. A change of one element changes its column's sum; two different elements\n"
"swapped are in different columns or, in one column, in different rows, and those sums change\n"
"by ``d`` and ``-d``, ``d != 0``. So any single change and any swap is detected exactly, for\n"
"every dtype; a longer permutation (a sort, a reversal) escapes only if it keeps every column\n"
"and every row sum.\n"
"One pass over the memory, each word read once: faster than an ``np.sum`` of the same bytes\n"
"(docs/user_guide/inplace.rst). The same array object always gives the same fingerprint:\n"
"broadcast axes (stride 0) are read once, contiguous arrays (C or Fortran order) in memory\n"
"order, other arrays through a C-ordered copy. None for an empty array (nothing to change)\n"
"and for object arrays (their elements are references).");

static PyObject *
fingerprint(PyObject *module, PyObject *obj)
{
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "fingerprint() takes an ndarray, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    PyArray_Descr *descr = PyArray_DESCR(a);
    if (PyArray_SIZE(a) == 0 || PyDataType_REFCHK(descr)) {
        Py_RETURN_NONE;
    }
    int nd = PyArray_NDIM(a), broadcast = 0;
    npy_intp dims[NPY_MAXDIMS];
    for (int i = 0; i < nd; i++) {
        /* the elements along a stride-0 axis are one element: read it once */
        broadcast |= PyArray_STRIDE(a, i) == 0;
        dims[i] = PyArray_STRIDE(a, i) == 0 ? 1 : PyArray_DIM(a, i);
    }
    PyObject *held = NULL;  /* an array made here, or NULL */
    if (broadcast) {
        Py_INCREF(descr);  /* stolen */
        held = PyArray_NewFromDescr(&PyArray_Type, descr, nd, dims, PyArray_STRIDES(a),
                                    PyArray_DATA(a), 0, NULL);  /* read-only, over a's memory */
        if (held == NULL || PyArray_SetBaseObject((PyArrayObject *)held, Py_NewRef(obj)) < 0) {
            Py_XDECREF(held);
            return NULL;
        }
        a = (PyArrayObject *)held;
    }
    if (!PyArray_IS_C_CONTIGUOUS(a) && !PyArray_IS_F_CONTIGUOUS(a)) {
        /* a plain ndarray, whatever ``a``'s class: its bytes, never a recorded computation */
        PyObject *copy = PyArray_FromArray(
            a, NULL, NPY_ARRAY_C_CONTIGUOUS | NPY_ARRAY_ENSURECOPY | NPY_ARRAY_ENSUREARRAY);
        Py_XSETREF(held, copy);
        if (copy == NULL) {
            return NULL;
        }
        a = (PyArrayObject *)copy;
    }
    /* contiguous: its bytes in memory order, whatever its shape, dtype and order */
    PyObject *fp = fingerprint_of((const unsigned char *)PyArray_DATA(a), PyArray_NBYTES(a),
                                  FP_ROWS, FP_MAX_ROW);
    Py_XDECREF(held);
    return fp;
}

/* ------------------------------------------------------------------------------------------ */
/* ArraysFirst: the replacement of a NumPy function that keeps lists of GradArrays in scopes    */
/*
 * ``np.sum``, ``np.reshape``, ``np.dot`` ... are replaced in conversion scopes (ndgrad/tracing.py)
 * so that a list or tuple of GradArrays becomes one recorded array. A call whose array
 * arguments are no list or tuple, the common call, goes to NumPy's function straight away, in a
 * scope or not; any other goes to ``general``, the Python replacement that reads the scope and
 * the caller's frame. The attributes functools.update_wrapper sets live in the instance dict;
 * as an attribute of a class it binds like a Python function. */

typedef struct {
    PyObject_HEAD
    PyObject *original;  /* NumPy's function */
    PyObject *general;   /* tracing's replacement for every other call */
    PyObject *names;     /* tuple of str: the array parameters, positional first */
    PyObject *dict;      /* __name__, __doc__, __wrapped__, ... */
    vectorcallfunc vectorcall;
} ArraysFirstObject;

static inline int
is_sequence(PyObject *o)
{
    return PyList_CheckExact(o) || PyTuple_CheckExact(o);
}

static PyObject *
ArraysFirst_vectorcall(ArraysFirstObject *self, PyObject *const *args, size_t nargsf,
                       PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t count = PyTuple_GET_SIZE(self->names);
    PyObject *target = self->original;
    for (Py_ssize_t i = 0; i < nargs && i < count; i++) {
        if (is_sequence(args[i])) {
            target = self->general;
        }
    }
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t k = 0; k < nkw && target == self->original; k++) {
        if (!is_sequence(args[nargs + k])) {
            continue;
        }
        for (Py_ssize_t i = 0; i < count; i++) {
            int same = PyUnicode_Compare(PyTuple_GET_ITEM(kwnames, k),
                                         PyTuple_GET_ITEM(self->names, i)) == 0;
            if (same) {
                target = self->general;
                break;
            }
        }
    }
    return PyObject_Vectorcall(target, args, nargsf, kwnames);
}

static PyObject *
ArraysFirst_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *original, *general, *names;
    static char *keywords[] = {"original", "general", "names", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!:ArraysFirst", keywords, &original,
                                     &general, &PyTuple_Type, &names)) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(names); i++) {
        if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(names, i))) {
            PyErr_SetString(PyExc_TypeError, "ArraysFirst: names must be a tuple of str");
            return NULL;
        }
    }
    if (!PyCallable_Check(original) || !PyCallable_Check(general)) {
        PyErr_SetString(PyExc_TypeError, "ArraysFirst: original and general must be callable");
        return NULL;
    }
    ArraysFirstObject *self = (ArraysFirstObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->original = Py_NewRef(original);
    self->general = Py_NewRef(general);
    self->names = Py_NewRef(names);
    self->vectorcall = (vectorcallfunc)ArraysFirst_vectorcall;
    return (PyObject *)self;
}

static int
ArraysFirst_traverse(ArraysFirstObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->original);
    Py_VISIT(self->general);
    Py_VISIT(self->names);
    Py_VISIT(self->dict);
    return 0;
}

static int
ArraysFirst_clear(ArraysFirstObject *self)
{
    Py_CLEAR(self->original);
    Py_CLEAR(self->general);
    Py_CLEAR(self->names);
    Py_CLEAR(self->dict);
    return 0;
}

static void
ArraysFirst_dealloc(ArraysFirstObject *self)
{
    PyObject_GC_UnTrack(self);
    ArraysFirst_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* As a class attribute it binds as a Python function does (the replacement it stands for was
 * one). */
static PyObject *
ArraysFirst_get(PyObject *self, PyObject *obj, PyObject *type)
{
    if (obj == NULL || obj == Py_None) {
        return Py_NewRef(self);
    }
    return PyMethod_New(self, obj);
}

static PyObject *
ArraysFirst_repr(ArraysFirstObject *self)
{
    return PyUnicode_FromFormat("<ndgrad's replacement of %R in conversion scopes>",
                                self->original);
}

static PyMemberDef ArraysFirst_members[] = {
    {"__ndgrad_original__", T_OBJECT_EX, offsetof(ArraysFirstObject, original), READONLY,
     "NumPy's function."},
    {NULL},
};

static PyGetSetDef ArraysFirst_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict},
    {NULL},
};

static PyTypeObject ArraysFirstType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ndgrad._core.ArraysFirst",
    .tp_doc = PyDoc_STR(
        "ArraysFirst(original, general, names)\n--\n\n"
        "Calls ``original`` when no argument named in ``names`` (positionally or by keyword) is\n"
        "a list or tuple, ``general`` otherwise, with the same arguments."),
    .tp_basicsize = sizeof(ArraysFirstObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL
                | Py_TPFLAGS_METHOD_DESCRIPTOR,
    .tp_new = ArraysFirst_new,
    .tp_dealloc = (destructor)ArraysFirst_dealloc,
    .tp_traverse = (traverseproc)ArraysFirst_traverse,
    .tp_clear = (inquiry)ArraysFirst_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(ArraysFirstObject, vectorcall),
    .tp_descr_get = ArraysFirst_get,
    .tp_repr = (reprfunc)ArraysFirst_repr,
    .tp_members = ArraysFirst_members,
    .tp_getset = ArraysFirst_getset,
    .tp_dictoffset = offsetof(ArraysFirstObject, dict),
};

/* ------------------------------------------------------------------------------------------ */
/* zero_filled                                                                                  */

/* Whether the element at ``p`` of the native float type ``type_num`` is zero (-0.0 is, NaN is
 * not): 1 or 0. */
static inline int
float_is_zero(const char *p, int type_num)
{
    switch (type_num) {
        case NPY_HALF: {
            npy_uint16 bits;
            memcpy(&bits, p, sizeof(bits));
            return (bits & 0x7fff) == 0;  /* every bit but the sign's */
        }
        case NPY_FLOAT: {
            float v;
            memcpy(&v, p, sizeof(v));
            return v == 0;
        }
        case NPY_DOUBLE: {
            double v;
            memcpy(&v, p, sizeof(v));
            return v == 0;
        }
        default: {  /* NPY_LONGDOUBLE: its padding bytes are not compared */
            npy_longdouble v;
            memcpy(&v, p, sizeof(v));
            return v == 0;
        }
    }
}

PyDoc_STRVAR(zero_filled_doc,
"zero_filled(a) -> bool | None\n"
"--\n\n"
"For the ndarray ``a``: whether it has elements, of a real float type, and every one is zero\n"
"(NaN is not). Reads the first element first, any layout. None where it cannot tell (a byte\n"
"order not the machine's, a float type NumPy does not define): the caller decides.");

static PyObject *
zero_filled(PyObject *module, PyObject *obj)
{
    if (!PyArray_Check(obj)) {
        PyErr_Format(PyExc_TypeError, "zero_filled() takes an ndarray, not %.100s",
                     Py_TYPE(obj)->tp_name);
        return NULL;
    }
    PyArrayObject *a = (PyArrayObject *)obj;
    PyArray_Descr *descr = PyArray_DESCR(a);
    int type_num = descr->type_num;
    if (descr->kind != 'f') {
        Py_RETURN_FALSE;
    }
    if ((type_num != NPY_HALF && type_num != NPY_FLOAT && type_num != NPY_DOUBLE
         && type_num != NPY_LONGDOUBLE) || !PyArray_ISNBO(descr->byteorder)) {
        Py_RETURN_NONE;
    }
    int ndim = PyArray_NDIM(a);
    npy_intp *dims = PyArray_DIMS(a), *strides = PyArray_STRIDES(a);
    if (PyArray_SIZE(a) == 0) {
        Py_RETURN_FALSE;
    }
    const char *data = PyArray_BYTES(a);
    if (!float_is_zero(data, type_num)) {
        Py_RETURN_FALSE;  /* the common case: a gradient is rarely zero where it starts */
    }
    /* every element, the last axis innermost (an odometer over the others) */
    npy_intp index[NPY_MAXDIMS] = {0};
    npy_intp inner = ndim == 0 ? 1 : dims[ndim - 1];
    npy_intp step = ndim == 0 ? 0 : strides[ndim - 1];
    for (;;) {
        const char *p = data;
        for (npy_intp j = 0; j < inner; j++, p += step) {
            if (!float_is_zero(p, type_num)) {
                Py_RETURN_FALSE;
            }
        }
        int axis = ndim - 2;
        for (; axis >= 0; axis--) {
            data += strides[axis];
            if (++index[axis] < dims[axis]) {
                break;
            }
            data -= strides[axis] * dims[axis];
            index[axis] = 0;
        }
        if (axis < 0) {
            Py_RETURN_TRUE;
        }
    }
}

/* ------------------------------------------------------------------------------------------ */
/* writeable                                                                                    */

PyDoc_STRVAR(writeable_doc,
"writeable(a) -> bool\n"
"--\n\n"
"Whether the ndarray ``a`` is writable and not one of NumPy's warn-on-write views (those are\n"
"left alone: reading or setting their ``flags.writeable`` warns).");

static PyObject *
writeable(PyObject *module, PyObject *a)
{
    if (!PyArray_Check(a)) {
        PyErr_Format(PyExc_TypeError, "writeable() takes an ndarray, not %.100s",
                     Py_TYPE(a)->tp_name);
        return NULL;
    }
    return PyBool_FromLong(is_writeable(a));
}

/* ------------------------------------------------------------------------------------------ */
/* Scope: entering and leaving ndgrad.tracing, the conversion scope                             */
/*
 * Every transform call opens one, so its entry and exit are here (ndgrad/tracing.py says what a
 * scope does and why; this is only its bookkeeping). While at least one scope is open in any
 * thread, ``numpy``'s class is the subclass whose properties return the replacements. The count
 * of open scopes and the swap of the class change together, in C with the GIL held and no call
 * that could run Python code in between, so that no thread sees one without the other; the
 * Python lock of tracing.py guards only the rare preparation (rebinding the libraries' names
 * and making the subclass), which runs Python code and is called from here when the plan it
 * left is stale. */

static PyObject *ScopeNumpy;       /* the ``numpy`` module (owned) */
static PyTypeObject *ScopePlain;   /* its class outside scopes (owned) */
static PyTypeObject *ScopeSwapped; /* the subclass it has while a scope is open (owned) */
static Py_ssize_t ScopePlanModules = -1;  /* len(sys.modules) the preparation saw; -1: none */
static Py_ssize_t OpenScopes;      /* scopes open in all threads together */
static PyObject *RaisedVar;        /* _errors.raised_in_scope (owned) */
static PyObject *PrepareScope;     /* tracing._prepare_scope(): prepares under the lock */
static PyObject *ReraiseHidden;    /* _errors.reraise_hidden(kind, exc, token) */

typedef struct {
    PyObject_HEAD
    PyObject *depth_token;   /* of scope_depth's increment; NULL while not entered */
    PyObject *raised_token;  /* of raised_in_scope's list, set by the outermost scope */
} ScopeObject;

/* Give ``numpy`` the class ``to``: what ``numpy.__class__ = to`` does once its layout was
 * checked (configure_scope), without a call that could run Python code (an audit hook) between
 * the count's test and its change. Heap types are held by their instances. */
static void
swap_numpy_class(PyTypeObject *to)
{
    PyTypeObject *from = Py_TYPE(ScopeNumpy);
    if (to->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        Py_INCREF(to);
    }
    Py_SET_TYPE(ScopeNumpy, to);
    if (from->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        Py_DECREF(from);  /* not its last reference: ScopePlain or ScopeSwapped holds it */
    }
}

/* The count of open scopes up by one, ``numpy``'s class swapped by the first: 0, or -1 with an
 * error (the count unchanged). */
static int
open_scope(void)
{
    while (OpenScopes == 0) {
        /* sys.modules as the import system holds it (no lookup by name: that allocates) */
        PyObject *modules = PyImport_GetModuleDict();  /* borrowed */
        Py_ssize_t count = PyDict_Check(modules) ? PyDict_GET_SIZE(modules) : -1;
        /* nothing from the test to the increment can run Python code */
        if (count >= 0 && count == ScopePlanModules && Py_TYPE(ScopeNumpy) == ScopePlain) {
            swap_numpy_class(ScopeSwapped);
            break;
        }
        /* stale: modules imported since, restore_numpy, or numpy's class changed. Python code
         * runs; another thread may open a scope meanwhile, so everything is tested again. */
        PyObject *res = PyObject_CallNoArgs(PrepareScope);
        if (res == NULL) {
            return -1;
        }
        Py_DECREF(res);
    }
    OpenScopes++;
    return 0;
}

static void
close_scope(void)
{
    if (--OpenScopes == 0 && Py_TYPE(ScopeNumpy) == ScopeSwapped) {
        swap_numpy_class(ScopePlain);  /* (unless someone else swapped it meanwhile) */
    }
}

static PyObject *
Scope_enter(ScopeObject *self, PyObject *Py_UNUSED(ignored))
{
    if (ScopeNumpy == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "ndgrad._core: configure_scope was not called");
        return NULL;
    }
    if (self->depth_token != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "this tracing() scope is already open; use a new one for each with");
        return NULL;
    }
    if (open_scope() < 0) {
        return NULL;
    }
    PyObject *depth = NULL, *raised = NULL;
    if (PyContextVar_Get(ScopeDepthVar, int_zero, &depth) < 0) {
        goto fail;
    }
    PyObject *deeper = PyNumber_Add(depth, int_one);
    Py_DECREF(depth);
    if (deeper == NULL) {
        goto fail;
    }
    self->depth_token = PyContextVar_Set(ScopeDepthVar, deeper);
    Py_DECREF(deeper);
    if (self->depth_token == NULL) {
        goto fail;
    }
    /* ndgrad's errors that library code hides are collected by the outermost scope and
     * re-raised on exit (_errors.hidden_errors_reraised) */
    if (PyContextVar_Get(RaisedVar, Py_None, &raised) < 0) {
        goto fail;
    }
    if (raised == Py_None) {
        PyObject *list = PyList_New(0);
        if (list == NULL) {
            Py_DECREF(raised);
            goto fail;
        }
        self->raised_token = PyContextVar_Set(RaisedVar, list);
        Py_DECREF(list);
        if (self->raised_token == NULL) {
            Py_DECREF(raised);
            goto fail;
        }
    }
    Py_DECREF(raised);
    Py_RETURN_NONE;
fail:
    if (self->depth_token != NULL) {
        PyObject *type, *value, *tb;
        PyErr_Fetch(&type, &value, &tb);
        if (PyContextVar_Reset(ScopeDepthVar, self->depth_token) < 0) {
            PyErr_WriteUnraisable((PyObject *)self);
        }
        PyErr_Restore(type, value, tb);
        Py_CLEAR(self->depth_token);
    }
    close_scope();
    return NULL;
}

static PyObject *
Scope_exit(ScopeObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "__exit__(kind, exc, tb)");
        return NULL;
    }
    if (self->depth_token == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "this tracing() scope is not open");
        return NULL;
    }
    PyObject *raised = NULL;
    int failed = PyContextVar_Get(RaisedVar, Py_None, &raised) < 0;
    if (!failed && PyList_Check(raised) && PyList_GET_SIZE(raised) > 0) {
        /* ndgrad raised an error in the block: Python decides what to raise, and resets */
        PyObject *call[3] = {args[0], args[1],
                             self->raised_token == NULL ? Py_None : self->raised_token};
        PyObject *res = PyObject_Vectorcall(ReraiseHidden, call, 3, NULL);
        failed = res == NULL;
        Py_XDECREF(res);
    }
    else if (!failed && self->raised_token != NULL) {
        failed = PyContextVar_Reset(RaisedVar, self->raised_token) < 0;
    }
    Py_XDECREF(raised);
    Py_CLEAR(self->raised_token);
    /* whatever happened above, the depth comes back and the count goes down */
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    int reset_failed = PyContextVar_Reset(ScopeDepthVar, self->depth_token) < 0;
    Py_CLEAR(self->depth_token);
    close_scope();
    if (!reset_failed) {
        PyErr_Restore(type, value, tb);
    }
    else {
        /* left in another context than it was entered in: that error, with the one before it
         * (if any) as its context, as Python's ``finally`` would chain them */
        failed = 1;
        if (type != NULL) {
            PyObject *type2, *value2, *tb2;
            PyErr_Fetch(&type2, &value2, &tb2);
            PyErr_NormalizeException(&type, &value, &tb);
            PyErr_NormalizeException(&type2, &value2, &tb2);
            if (tb != NULL) {
                PyException_SetTraceback(value, tb);
            }
            PyException_SetContext(value2, value);  /* steals value */
            Py_DECREF(type);
            Py_XDECREF(tb);
            PyErr_Restore(type2, value2, tb2);
        }
    }
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;  /* an exception of the block goes on */
}

/* A token holds its context, which holds the errors a scope collected, whose tracebacks may
 * hold the scope: tracked, so that such a cycle (a scope never left) is collected. */
static int
Scope_traverse(ScopeObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->depth_token);
    Py_VISIT(self->raised_token);
    return 0;
}

static int
Scope_clear(ScopeObject *self)
{
    Py_CLEAR(self->depth_token);
    Py_CLEAR(self->raised_token);
    return 0;
}

static void
Scope_dealloc(ScopeObject *self)
{
    /* (a scope dropped while open stays counted, as a ``with`` never left) */
    PyObject_GC_UnTrack(self);
    Scope_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Scope_methods[] = {
    {"__enter__", (PyCFunction)Scope_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)(void (*)(void))Scope_exit, METH_FASTCALL, NULL},
    {NULL},
};

static PyTypeObject ScopeType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "ndgrad._core.Scope",
    .tp_doc = PyDoc_STR("The entry and exit of ndgrad.tracing (its base class)."),
    .tp_basicsize = sizeof(ScopeObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_new = PyType_GenericNew,
    .tp_dealloc = (destructor)Scope_dealloc,
    .tp_traverse = (traverseproc)Scope_traverse,
    .tp_clear = (inquiry)Scope_clear,
    .tp_methods = Scope_methods,
};

PyDoc_STRVAR(configure_scope_doc,
"configure_scope(numpy, raised_in_scope_var, prepare, reraise_hidden)\n"
"--\n\n"
"Register what Scope's entry and exit use (ndgrad.tracing, once): the ``numpy`` module, the\n"
"context variable of the errors ndgrad raised in a scope, ``prepare()`` (called without\n"
"arguments when the plan is stale: rebinds and calls scope_plan) and ``reraise_hidden(kind,\n"
"exc, token)`` (called on exit when ndgrad raised in the block). The scope's depth is\n"
"configure's ``scope_depth_var``.");

static PyObject *
configure_scope(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4 || !PyModule_Check(args[0]) || !PyContextVar_CheckExact(args[1])
        || !PyCallable_Check(args[2]) || !PyCallable_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "configure_scope(numpy (a module), raised_in_scope_var, "
                                         "prepare, reraise_hidden)");
        return NULL;
    }
    if (ScopeDepthVar == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "configure_scope before configure");
        return NULL;
    }
    if (OpenScopes != 0) {
        PyErr_SetString(PyExc_RuntimeError, "configure_scope while a scope is open");
        return NULL;
    }
    Py_XSETREF(ScopeNumpy, Py_NewRef(args[0]));
    Py_XSETREF(RaisedVar, Py_NewRef(args[1]));
    Py_XSETREF(PrepareScope, Py_NewRef(args[2]));
    Py_XSETREF(ReraiseHidden, Py_NewRef(args[3]));
    Py_CLEAR(ScopePlain);
    Py_CLEAR(ScopeSwapped);
    ScopePlanModules = -1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(scope_plan_doc,
"scope_plan(modules, plain, swapped)\n"
"--\n\n"
"What the preparation left (called by it, under tracing's lock): ``len(sys.modules)`` when it\n"
"rebound the libraries' names, ``numpy``'s class and the subclass a scope gives it. The\n"
"subclass must add nothing to the instance layout: the swap assigns the class directly.");

static PyObject *
scope_plan(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyLong_Check(args[0]) || !PyType_Check(args[1])
        || !PyType_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "scope_plan(modules: int, plain: type, swapped: type)");
        return NULL;
    }
    PyTypeObject *plain = (PyTypeObject *)args[1], *swapped = (PyTypeObject *)args[2];
    if (!PyType_IsSubtype(swapped, plain) || swapped->tp_basicsize != plain->tp_basicsize
        || swapped->tp_dictoffset != plain->tp_dictoffset
        || swapped->tp_itemsize != plain->tp_itemsize || !PyModule_Check(ScopeNumpy)
        || !PyObject_TypeCheck(ScopeNumpy, plain)) {
        PyErr_SetString(PyExc_TypeError,
                        "scope_plan: swapped must be a subclass of numpy's class, plain, "
                        "with its layout");
        return NULL;
    }
    Py_ssize_t modules = PyLong_AsSsize_t(args[0]);
    if (modules == -1 && PyErr_Occurred()) {
        return NULL;
    }
    Py_XSETREF(ScopePlain, (PyTypeObject *)Py_NewRef(plain));
    Py_XSETREF(ScopeSwapped, (PyTypeObject *)Py_NewRef(swapped));
    ScopePlanModules = modules;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(forget_scope_plan_doc,
"forget_scope_plan() -> bool\n"
"--\n\n"
"Mark the plan stale (the next scope prepares again), unless a scope is open: then False and\n"
"nothing changes. One step, so that no scope opens on a plan restore_numpy is undoing.");

static PyObject *
forget_scope_plan(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    if (OpenScopes != 0) {
        Py_RETURN_FALSE;
    }
    ScopePlanModules = -1;
    Py_RETURN_TRUE;
}

PyDoc_STRVAR(open_scopes_doc,
"open_scopes() -> int\n"
"--\n\n"
"How many conversion scopes are open in all threads together.");

static PyObject *
open_scopes(PyObject *module, PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(OpenScopes);
}

/* ------------------------------------------------------------------------------------------ */
/* configure                                                                                   */

PyDoc_STRVAR(configure_doc,
"configure(LeafNode, NO_KWARGS, accumulate_leaf, check_live, check_versions, cotangents,\n"
"          fit, take, grad_enabled_var, scope_depth_var, inert_types, permanent_prims,\n"
"          Primitive)\n"
"--\n\n"
"Register the Python parts of the backward pass (ndgrad._graph calls this once), and what\n"
"decides which nodes the cyclic GC tracks: the types whose references never lead to a node\n"
"(ArrayMeta first: what backward does not lift under create_graph), and the set of\n"
"primitives the registry holds for good; and the Primitive class, whose slots the hot path\n"
"reads directly.");

static PyObject *
configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject **slots[] = {&LeafNodeType, &NoKwargs, &AccumulateLeaf, &CheckLive,
                          &CheckVersions, &Cotangents, &Fit, &Take, &GradEnabledVarForPass,
                          &ScopeDepthVar, &InertTypes, &PermanentPrims};
    if (nargs != 13 || !PyType_Check(args[0]) || !PyDict_Check(args[1])
        || !PyContextVar_CheckExact(args[8]) || !PyContextVar_CheckExact(args[9])
        || !PyTuple_CheckExact(args[10]) || !PySet_Check(args[11]) || !PyType_Check(args[12])) {
        PyErr_SetString(PyExc_TypeError, "configure(LeafNode, NO_KWARGS, accumulate_leaf, "
                                         "check_live, check_versions, cotangents, fit, take, "
                                         "grad_enabled_var, scope_depth_var, inert_types "
                                         "(a tuple of types), permanent_prims (a set), "
                                         "Primitive (a type))");
        return NULL;
    }
    PyTypeObject *prim_type = (PyTypeObject *)args[12];
    Py_ssize_t offsets[8] = {slot_offset(prim_type, "rules"), slot_offset(prim_type, "argnum_rule"),
                             slot_offset(prim_type, "inplace_rules"),
                             slot_offset(prim_type, "by_operands"),
                             slot_offset(prim_type, "positional"),
                             slot_offset(prim_type, "unit_rules"),
                             slot_offset(prim_type, "array_method"),
                             slot_offset(prim_type, "unbroadcast")};
    for (int i = 0; i < 8; i++) {
        if (offsets[i] < 0) {
            return NULL;
        }
    }
    off_rules = offsets[0];
    off_argnum_rule = offsets[1];
    off_inplace_rules = offsets[2];
    off_by_operands = offsets[3];
    off_positional = offsets[4];
    off_unit_rules = offsets[5];
    off_array_method = offsets[6];
    off_unbroadcast = offsets[7];
    Py_XSETREF(PrimitiveType, (PyTypeObject *)Py_NewRef(prim_type));
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(args[10]); i++) {
        if (!PyType_Check(PyTuple_GET_ITEM(args[10], i))) {
            PyErr_SetString(PyExc_TypeError, "configure: inert_types must hold types");
            return NULL;
        }
    }
    if (PyTuple_GET_SIZE(args[10]) == 0) {
        PyErr_SetString(PyExc_TypeError, "configure: inert_types must start with ArrayMeta");
        return NULL;
    }
    for (int i = 0; i < 12; i++) {
        Py_XSETREF(*slots[i], Py_NewRef(args[i]));
    }
    memset(permanent_seen, 0, sizeof(permanent_seen));  /* they were another set's members */
    off_leaf_ref = slot_offset((PyTypeObject *)LeafNodeType, "ref");
    if (off_leaf_ref < 0) {
        return NULL;
    }
    ArrayMetaType = PyTuple_GET_ITEM(InertTypes, 0);  /* borrowed: InertTypes holds it */
    const char *fields[5] = {"shape", "dtype", "strides", "ndim", "size"};
    for (int i = 0; i < 5; i++) {
        off_meta[i] = slot_offset((PyTypeObject *)ArrayMetaType, fields[i]);
        if (off_meta[i] < 0) {
            ArrayMetaType = NULL;
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* forward_plan_steps: what forward mode's pass needs of each node, made once per plan          */

PyDoc_STRVAR(forward_plan_steps_doc,
"forward_plan_steps(order, stop, meta, keep, common_rules, ans_meta) -> list\n"
"--\n\n"
"The steps of ``forward_steps``, one per node of ``order`` (a forward plan's nodes, parents\n"
"first) that is neither in the set ``stop`` nor a leaf: ``(node, keys, edges, fasts, real_only,\n"
"drops, ans_meta)``. ``keys``: the ``(parent, out)`` target each edge reads. ``drops``: per\n"
"edge, ``(parent, targets)``, the parent's targets not in the set ``keep`` (the plan's\n"
"outputs), dropped once the parent's last consumer is done. ``real_only``: the primitive's\n"
"JVP is its VJP rules applied to the tangent (``jvp_kind == 'elementwise'``), for real values\n"
"only. ``fasts``: for the common node (one output, no ``where=``, each edge reading a whole\n"
"argument of its own), the rule per edge of ``common_rules(prim, slots, n_args) -> (kind,\n"
"fasts)``, as kept in ``prim.forward_common``; None (``node_tangents`` derives the JVP) when\n"
"the node lacks what its kind needs: complex values for an elementwise one, a kept factor for\n"
"a multilinear one. A rules node that did not keep its output gets ``ans_meta(shape, dtype)``\n"
"of it, from ``meta``; None otherwise.");

static PyObject *str_forward_common, *str_jvp_kind;

/* Whether the int ``slot`` is among the first ``n`` items of the tuple ``slots``: 1, 0, -1. */
static int
slot_among(PyObject *slots, Py_ssize_t n, PyObject *slot)
{
    for (Py_ssize_t i = 0; i < n; i++) {
        int eq = PyObject_RichCompareBool(PyTuple_GET_ITEM(slots, i), slot, Py_EQ);
        if (eq != 0) {
            return eq;
        }
    }
    return 0;
}

/* ``(parent, targets)`` of one edge (see the docstring); ``key`` is its ``(parent, out)``. New
 * reference, or NULL. */
static PyObject *
edge_drop(PyObject *parent, PyObject *key, PyObject *keep)
{
    PyObject *targets = PyList_New(0);
    if (targets == NULL) {
        return NULL;
    }
    Py_ssize_t n_out = n_out_of(parent);
    for (Py_ssize_t i = 0; i < n_out; i++) {
        PyObject *index = n_out == 1 ? NULL : PyLong_FromSsize_t(i);
        PyObject *target = n_out == 1 ? Py_NewRef(key)
                           : index == NULL ? NULL : PyTuple_Pack(2, parent, index);
        Py_XDECREF(index);
        int kept = target == NULL ? -1 : PySet_Contains(keep, target);
        if (kept < 0 || (!kept && PyList_Append(targets, target) < 0)) {
            Py_XDECREF(target);
            Py_DECREF(targets);
            return NULL;
        }
        Py_DECREF(target);
    }
    PyObject *drop = PyTuple_Pack(2, parent, targets);
    Py_DECREF(targets);
    return drop;
}

/* ``meta[(node, 0)]``, the (shape, dtype) of a node's one output: borrowed, or NULL. */
static PyObject *
output_meta(PyObject *meta, PyObject *node)
{
    PyObject *key = PyTuple_Pack(2, node, int_zero);
    if (key == NULL) {
        return NULL;
    }
    PyObject *m = PyDict_GetItemWithError(meta, key);
    Py_DECREF(key);
    if (m == NULL && !PyErr_Occurred()) {
        PyErr_SetObject(PyExc_KeyError, node);
    }
    if (m != NULL && (!PyTuple_Check(m) || PyTuple_GET_SIZE(m) != 2)) {
        PyErr_SetString(PyExc_TypeError, "forward_plan_steps: meta values are (shape, dtype)");
        return NULL;
    }
    return m;
}

/* The common node's ``fasts`` and ``ans_meta`` (new references, None when not common): see the
 * docstring. 0, or -1 on error. */
static int
common_fasts(NodeObject *node, PyObject *slots, PyObject *meta, PyObject *common_rules,
             PyObject *ans_meta_fn, PyObject **fasts_out, PyObject **ans_meta_out)
{
    *fasts_out = Py_NewRef(Py_None);
    *ans_meta_out = Py_NewRef(Py_None);
    Py_ssize_t n_args = PyTuple_GET_SIZE(node->args);
    PyObject *cache = PyObject_GetAttr(node->prim, str_forward_common);
    PyObject *n_obj = cache == NULL ? NULL : PyLong_FromSsize_t(n_args);
    PyObject *key = n_obj == NULL ? NULL : PyTuple_Pack(2, slots, n_obj);
    Py_XDECREF(n_obj);
    PyObject *known = NULL;  /* new */
    if (key != NULL) {
        known = PyDict_Check(cache) ? Py_XNewRef(PyDict_GetItemWithError(cache, key)) : NULL;
        if (known == NULL && !PyErr_Occurred()) {
            known = PyObject_CallFunctionObjArgs(common_rules, node->prim, slots,
                                                 PyTuple_GET_ITEM(key, 1), NULL);
        }
    }
    Py_XDECREF(cache);
    Py_XDECREF(key);
    if (known == NULL) {
        return -1;
    }
    if (!PyTuple_Check(known) || PyTuple_GET_SIZE(known) != 2) {
        Py_DECREF(known);
        PyErr_SetString(PyExc_TypeError, "common_rules must return (kind, fasts)");
        return -1;
    }
    PyObject *kind = PyTuple_GET_ITEM(known, 0), *fasts = PyTuple_GET_ITEM(known, 1);
    int rc = 0;
    if (fasts != Py_None && PyUnicode_Check(kind)) {
        Py_SETREF(*fasts_out, Py_NewRef(fasts));
        if (PyUnicode_CompareWithASCIIString(kind, "rules") == 0) {
            if (node->ans == Py_None) {  /* a JVP rule may read the output's meta */
                PyObject *m = output_meta(meta, (PyObject *)node);
                PyObject *made = m == NULL ? NULL
                                 : PyObject_CallFunctionObjArgs(ans_meta_fn, PyTuple_GET_ITEM(m, 0),
                                                                PyTuple_GET_ITEM(m, 1), NULL);
                rc = made == NULL ? -1 : 0;
                if (made != NULL) {
                    Py_SETREF(*ans_meta_out, made);
                }
            }
        }
        else if (PyUnicode_CompareWithASCIIString(kind, "elementwise") == 0) {
            PyObject *m = output_meta(meta, (PyObject *)node);
            PyObject *dtype = m == NULL ? NULL : PyTuple_GET_ITEM(m, 1);
            rc = m == NULL ? -1 : 0;
            if (dtype != NULL && (!PyArray_DescrCheck(dtype)
                                  || ((PyArray_Descr *)dtype)->kind == 'c')) {
                Py_SETREF(*fasts_out, Py_NewRef(Py_None));  /* node_tangents derives it */
            }
        }
        else if (PyUnicode_CompareWithASCIIString(kind, "multilinear") == 0) {
            /* every other factor kept, not only its shape: else derived_tangents transposes */
            Py_ssize_t n_slots = PyTuple_GET_SIZE(slots);
            for (Py_ssize_t i = 0; i < n_args && rc == 0; i++) {
                PyObject *a = PyTuple_GET_ITEM(node->args, i);
                PyObject *index = PyLong_FromSsize_t(i);
                int among = index == NULL ? -1 : slot_among(slots, n_slots, index);
                Py_XDECREF(index);
                if (among < 0) {
                    rc = -1;
                }
                else if ((!among || n_slots > 1)
                         && (a == Py_None
                             || PyObject_TypeCheck(a, (PyTypeObject *)ArrayMetaType))) {
                    Py_SETREF(*fasts_out, Py_NewRef(Py_None));
                    break;
                }
            }
        }
    }
    Py_DECREF(known);
    if (rc < 0) {
        Py_CLEAR(*fasts_out);
        Py_CLEAR(*ans_meta_out);
    }
    return rc;
}

/* The step of one node (see the docstring): new reference, or NULL. */
static PyObject *
plan_step(NodeObject *node, PyObject *meta, PyObject *keep, PyObject *common_rules,
          PyObject *ans_meta_fn)
{
    Py_ssize_t n = NODE_N_EDGES(node);
    PyObject *keys = PyList_New(n), *drops = PyList_New(n), *slots = PyTuple_New(n);
    PyObject *edges = Node_get_edges(node, NULL);
    PyObject *fasts = NULL, *ans_meta = NULL, *step = NULL;
    if (keys == NULL || drops == NULL || slots == NULL || edges == NULL) {
        goto done;
    }
    int whole = 1;  /* each edge reads a whole argument of its own */
    for (Py_ssize_t e = 0; e < n; e++) {
        PyObject *const *edge = NODE_EDGE(node, e);
        PyObject *parent = edge[EDGE_PARENT];
        PyObject *slot = edge[EDGE_SLOT];
        PyObject *key = PyTuple_Pack(2, parent, edge[EDGE_OUT]);
        if (key == NULL) {
            goto done;
        }
        PyList_SET_ITEM(keys, e, key);
        PyObject *drop = edge_drop(parent, key, keep);
        if (drop == NULL) {
            goto done;
        }
        PyList_SET_ITEM(drops, e, drop);
        if (whole) {
            Py_ssize_t s = PyLong_AsSsize_t(slot);
            int among = s == -1 && PyErr_Occurred() ? -1 : slot_among(slots, e, slot);
            if (among < 0) {
                goto done;
            }
            whole = edge[EDGE_FLAT] == Py_None && s >= 0 && !among;
        }
        PyTuple_SET_ITEM(slots, e, Py_NewRef(slot));
    }
    if (whole && node->n_out == 1 && node->where == Py_None && PyTuple_Check(node->args)) {
        if (common_fasts(node, slots, meta, common_rules, ans_meta_fn, &fasts, &ans_meta) < 0) {
            goto done;
        }
    }
    else {
        fasts = Py_NewRef(Py_None);
        ans_meta = Py_NewRef(Py_None);
    }
    PyObject *jvp_kind = PyObject_GetAttr(node->prim, str_jvp_kind);
    if (jvp_kind == NULL) {
        goto done;
    }
    int real_only = PyUnicode_Check(jvp_kind)
                    && PyUnicode_CompareWithASCIIString(jvp_kind, "elementwise") == 0;
    Py_DECREF(jvp_kind);
    step = PyTuple_Pack(7, (PyObject *)node, keys, edges, fasts, real_only ? Py_True : Py_False,
                        drops, ans_meta);
done:
    Py_XDECREF(keys);
    Py_XDECREF(drops);
    Py_XDECREF(slots);
    Py_XDECREF(edges);
    Py_XDECREF(fasts);
    Py_XDECREF(ans_meta);
    return step;
}

static PyObject *
forward_plan_steps(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6 || !PyList_Check(args[0]) || !PyAnySet_Check(args[1])
        || !PyDict_Check(args[2]) || !PyAnySet_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError,
                        "forward_plan_steps(order: list, stop: set, meta: dict, keep: set, "
                        "common_rules, ans_meta)");
        return NULL;
    }
    PyObject *order = args[0], *stop = args[1];
    PyObject *steps = PyList_New(0);
    if (steps == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(order); i++) {
        PyObject *node = PyList_GET_ITEM(order, i);
        int stopped = PySet_Contains(stop, node);
        if (stopped < 0) {
            Py_DECREF(steps);
            return NULL;
        }
        if (stopped || !Node_Check(node)) {
            continue;  /* an input, or a leaf: no edges, nothing to compute */
        }
        if (NODE_N_EDGES(node) == 0) {
            continue;
        }
        PyObject *step = plan_step((NodeObject *)node, args[2], args[3], args[4], args[5]);
        if (step == NULL || PyList_Append(steps, step) < 0) {
            Py_XDECREF(step);
            Py_DECREF(steps);
            return NULL;
        }
        Py_DECREF(step);
    }
    return steps;
}

/* ------------------------------------------------------------------------------------------ */
/* forward_steps: the loop of forward mode's pass                                               */

PyDoc_STRVAR(forward_steps_doc,
"forward_steps(steps, tan, left, inline, node_tangents, lift, meta, free)\n"
"--\n\n"
"The loop of ``_forward.ForwardPlan.push``. For each step ``(node, keys, edges, fasts,\n"
"real_only, drops, ans_meta)`` (``forward_plan_steps``): the node's output tangents from\n"
"those in ``tan`` (a dict keyed by ``(node, out)``, filled in place); the common node\n"
"computed here with its ``fasts`` when ``inline`` is true, every other one by\n"
"``node_tangents(node, edges, incoming, lift, meta)``; then the tangents no later node reads\n"
"are dropped (``left`` counts each node's consumers still to come). In a recorded pass\n"
"(``lift`` not None) the common node's saved arrays are lifted as ``node_tangents`` lifts\n"
"them, except for a node in the set ``free`` (``forward_order``), computed as in a pass that\n"
"is not recorded. The semantics are ``_forward``'s: this is its loop.");

/* Whether tangent ``t`` (borrowed) goes to an edge's inlined rule as it is: a plain ndarray
 * (any ndarray in a ``recorded`` pass, whose tangents are GradArrays) of the edge's shape and
 * dtype, and real where the rule is a VJP rule applied to the tangent (``real_only``). 1 yes, 0
 * no, -1 on error. */
static int
tangent_fits(PyObject *t, PyObject *edge, int real_only, int recorded)
{
    if (recorded ? !PyArray_Check(t) : !PyArray_CheckExact(t)) {
        return 0;  /* a recorded pass's tangents are GradArrays */
    }
    PyArrayObject *a = (PyArrayObject *)t;
    PyObject *shape = PyTuple_GET_ITEM(edge, EDGE_SHAPE);
    int nd = PyArray_NDIM(a);
    if (!PyTuple_Check(shape) || PyTuple_GET_SIZE(shape) != nd) {
        return 0;
    }
    npy_intp *dims = PyArray_DIMS(a);
    for (int i = 0; i < nd; i++) {
        Py_ssize_t n = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, i));
        if (n == -1 && PyErr_Occurred()) {
            return -1;
        }
        if (n != dims[i]) {
            return 0;
        }
    }
    PyArray_Descr *descr = PyArray_DESCR(a);
    if (real_only && PyTypeNum_ISCOMPLEX(descr->type_num)) {
        return 0;
    }
    PyObject *dtype = PyTuple_GET_ITEM(edge, EDGE_DTYPE);
    if ((PyObject *)descr == dtype) {
        return 1;
    }
    return PyObject_RichCompareBool((PyObject *)descr, dtype, Py_EQ);
}

/* ``rule(t, ans, *args, **node.kwargs)``: a new reference, or NULL. */
static PyObject *
call_jvp_rule(PyObject *rule, PyObject *t, PyObject *ans, PyObject *args, NodeObject *node)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    PyObject *call = PyTuple_New(2 + n);
    if (call == NULL) {
        return NULL;
    }
    PyTuple_SET_ITEM(call, 0, Py_NewRef(t));
    PyTuple_SET_ITEM(call, 1, Py_NewRef(ans));
    for (Py_ssize_t i = 0; i < n; i++) {
        PyTuple_SET_ITEM(call, 2 + i, Py_NewRef(PyTuple_GET_ITEM(args, i)));
    }
    PyObject *kwargs = PyDict_GET_SIZE(node->kwargs) ? node->kwargs : NULL;
    PyObject *res = PyObject_Call(rule, call, kwargs);
    Py_DECREF(call);
    return res;
}

/* ``tan[(node, out)] = value``. 0, or -1 on error. */
static int
store_tangent(PyObject *tan, PyObject *node, Py_ssize_t out, PyObject *value)
{
    PyObject *index = out == 0 ? Py_NewRef(int_zero) : PyLong_FromSsize_t(out);
    if (index == NULL) {
        return -1;
    }
    PyObject *key = PyTuple_Pack(2, node, index);
    Py_DECREF(index);
    if (key == NULL) {
        return -1;
    }
    int rc = PyDict_SetItem(tan, key, value);
    Py_DECREF(key);
    return rc;
}

/* The common node (``fasts`` given, nothing to check or fit): the sum of its edges' rules
 * applied to their tangents, stored under ``(node, 0)``. 1 done, 0 not such a node
 * (nothing done), -1 on error. ``incoming`` holds borrowed tangents (NULL: none). */
static int
inline_node(PyObject *tan, NodeObject *node, PyObject *edges, PyObject *fasts,
            PyObject **incoming, Py_ssize_t n, int real_only, PyObject *ans_meta,
            PyObject *lift)
{
    if (!PyList_Check(fasts) || PyList_GET_SIZE(fasts) != n || node->freed
        || !PyTuple_Check(node->versions) || PyTuple_GET_SIZE(node->versions) != 0
        || !PyTuple_Check(node->args) || !PyDict_Check(node->kwargs)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        if (incoming[i] != NULL) {
            int fits = tangent_fits(incoming[i], PyTuple_GET_ITEM(edges, i), real_only,
                                    lift != Py_None);
            if (fits <= 0) {
                return fits;
            }
        }
    }
    /* a recorded pass (``lift``) reads the saved arrays lifted, as node_tangents does */
    PyObject *args, *ans;
    if (lift_inputs(lift, node, &args, &ans) < 0) {
        return -1;
    }
    if (ans == Py_None) {
        Py_SETREF(ans, Py_NewRef(ans_meta));
    }
    PyObject *total = NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *rule = PyList_GET_ITEM(fasts, i);
        if (incoming[i] == NULL || rule == Py_None) {
            continue;
        }
        PyObject *part = call_jvp_rule(rule, incoming[i], ans, args, node);
        if (part == NULL) {
            Py_XDECREF(total);
            Py_DECREF(args);
            Py_DECREF(ans);
            return -1;
        }
        if (part == Py_None) {  /* a rule may say "zero" with None */
            Py_DECREF(part);
            continue;
        }
        if (total == NULL) {
            total = part;
        }
        else {
            Py_SETREF(total, PyNumber_Add(total, part));
            Py_DECREF(part);
            if (total == NULL) {
                Py_DECREF(args);
                Py_DECREF(ans);
                return -1;
            }
        }
    }
    Py_DECREF(args);
    Py_DECREF(ans);
    if (total == NULL) {
        return 1;
    }
    int rc = store_tangent(tan, (PyObject *)node, 0, total);
    Py_DECREF(total);
    return rc < 0 ? -1 : 1;
}

/* Any other node: ``node_tangents(node, edges, incoming, lift, meta)``, its non-None results
 * stored under ``(node, i)``. 0, or -1 on error. */
static int
general_node(PyObject *tan, PyObject *node, PyObject *edges, PyObject **incoming,
             Py_ssize_t n, PyObject *node_tangents, PyObject *lift, PyObject *meta)
{
    PyObject *list = PyList_New(n);
    if (list == NULL) {
        return -1;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyList_SET_ITEM(list, i, Py_NewRef(incoming[i] != NULL ? incoming[i] : Py_None));
    }
    PyObject *results = PyObject_CallFunctionObjArgs(node_tangents, node, edges, list, lift,
                                                     meta, NULL);
    Py_DECREF(list);
    if (results == NULL) {
        return -1;
    }
    PyObject *seq = PySequence_Fast(results, "node_tangents must return a sequence");
    Py_DECREF(results);
    if (seq == NULL) {
        return -1;
    }
    int rc = 0;
    for (Py_ssize_t i = 0; rc == 0 && i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *t = PySequence_Fast_GET_ITEM(seq, i);
        if (t != Py_None) {
            rc = store_tangent(tan, node, i, t);
        }
    }
    Py_DECREF(seq);
    return rc;
}

/* ``left[parent] -= 1`` for each of the step's edges; at zero, the parent's tangents that no
 * output of the plan needs (``targets``) leave ``tan``. 0, or -1 on error. */
static int
drop_read_tangents(PyObject *tan, PyObject *left, PyObject *drops)
{
    if (!PyList_Check(drops)) {
        PyErr_SetString(PyExc_TypeError, "forward_steps: drops must be a list");
        return -1;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(drops); i++) {
        PyObject *drop = PyList_GET_ITEM(drops, i);
        if (!PyTuple_Check(drop) || PyTuple_GET_SIZE(drop) != 2) {
            PyErr_SetString(PyExc_TypeError, "forward_steps: a drop is (parent, targets)");
            return -1;
        }
        PyObject *parent = PyTuple_GET_ITEM(drop, 0), *targets = PyTuple_GET_ITEM(drop, 1);
        PyObject *count = PyDict_GetItemWithError(left, parent);  /* borrowed */
        if (count == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_KeyError, "forward_steps: a parent without a count");
            }
            return -1;
        }
        Py_ssize_t c = PyLong_AsSsize_t(count);
        if (c == -1 && PyErr_Occurred()) {
            return -1;
        }
        PyObject *next = PyLong_FromSsize_t(c - 1);
        if (next == NULL) {
            return -1;
        }
        int rc = PyDict_SetItem(left, parent, next);
        Py_DECREF(next);
        if (rc < 0) {
            return -1;
        }
        if (c - 1 != 0) {
            continue;
        }
        if (!PyList_Check(targets)) {
            PyErr_SetString(PyExc_TypeError, "forward_steps: targets must be a list");
            return -1;
        }
        for (Py_ssize_t k = 0; k < PyList_GET_SIZE(targets); k++) {
            PyObject *target = PyList_GET_ITEM(targets, k);
            int has = PyDict_Contains(tan, target);
            if (has < 0 || (has && PyDict_DelItem(tan, target) < 0)) {
                return -1;
            }
        }
    }
    return 0;
}

/* One step of the loop. 0, or -1 on error. */
static int
forward_step(PyObject *step, PyObject *tan, PyObject *left, int inline_common,
             PyObject *node_tangents, PyObject *lift, PyObject *meta, PyObject *free)
{
    if (!PyTuple_Check(step) || PyTuple_GET_SIZE(step) != 7) {
        PyErr_SetString(PyExc_TypeError, "forward_steps: a step is a tuple of 7");
        return -1;
    }
    PyObject *node = PyTuple_GET_ITEM(step, 0), *keys = PyTuple_GET_ITEM(step, 1);
    PyObject *edges = PyTuple_GET_ITEM(step, 2), *fasts = PyTuple_GET_ITEM(step, 3);
    int real_only = PyObject_IsTrue(PyTuple_GET_ITEM(step, 4));
    PyObject *drops = PyTuple_GET_ITEM(step, 5), *ans_meta = PyTuple_GET_ITEM(step, 6);
    if (real_only < 0) {
        return -1;
    }
    if (lift != Py_None && free != Py_None) {
        /* its values depend on the transform's own tracers alone: nothing outside can
         * differentiate through them, so its saved arrays are read plain */
        int is_free = PySet_Contains(free, node);
        if (is_free < 0) {
            return -1;
        }
        lift = is_free ? Py_None : lift;
    }
    if (!PyList_Check(keys) || !PyTuple_Check(edges)
        || PyList_GET_SIZE(keys) != PyTuple_GET_SIZE(edges)) {
        PyErr_SetString(PyExc_TypeError, "forward_steps: keys and edges of one length");
        return -1;
    }
    Py_ssize_t n = PyList_GET_SIZE(keys);
    PyObject *small[4];
    PyObject **incoming = n <= 4 ? small : PyMem_New(PyObject *, n);
    if (incoming == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    int any = 0, rc = 0;
    for (Py_ssize_t i = 0; i < n; i++) {  /* borrowed from tan, which nothing changes here */
        incoming[i] = PyDict_GetItemWithError(tan, PyList_GET_ITEM(keys, i));
        if (incoming[i] == NULL && PyErr_Occurred()) {
            rc = -1;
            goto done;
        }
        any |= incoming[i] != NULL;
    }
    if (any) {
        /* the rules may change ``tan`` only through this function: hold the tangents */
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_XINCREF(incoming[i]);
        }
        /* A NumPy scalar (the tangent ``t[0]`` of an index) becomes the 0-d array that
         * fit_tangent would make of it, so that the next node is still the common one. */
        for (Py_ssize_t i = 0; i < n && rc == 0; i++) {
            if (incoming[i] != NULL && PyArray_IsScalar(incoming[i], Generic)) {
                Py_SETREF(incoming[i], PyArray_FromScalar(incoming[i], NULL));
                rc = incoming[i] == NULL ? -1 : 0;
            }
        }
        int done_inline = 0;
        if (rc == 0 && inline_common && fasts != Py_None && Node_Check(node)) {
            done_inline = inline_node(tan, (NodeObject *)node, edges, fasts, incoming, n,
                                      real_only, ans_meta, lift);
        }
        if (rc == 0 && done_inline == 0) {
            rc = general_node(tan, node, edges, incoming, n, node_tangents, lift, meta);
        }
        else if (done_inline < 0) {
            rc = -1;
        }
        for (Py_ssize_t i = 0; i < n; i++) {
            Py_XDECREF(incoming[i]);
        }
        if (rc < 0) {
            goto done;
        }
    }
    rc = drop_read_tangents(tan, left, drops);
done:
    if (incoming != small) {
        PyMem_Free(incoming);
    }
    return rc;
}

static PyObject *
forward_steps(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 8) {
        PyErr_SetString(PyExc_TypeError, "forward_steps takes 8 arguments");
        return NULL;
    }
    PyObject *steps = args[0], *tan = args[1], *left = args[2];
    if (!PyList_Check(steps) || !PyDict_Check(tan) || !PyDict_Check(left)
        || !(args[7] == Py_None || PyAnySet_Check(args[7]))) {
        PyErr_SetString(PyExc_TypeError, "forward_steps(list, dict, dict, ...)");
        return NULL;
    }
    int inline_common = PyObject_IsTrue(args[3]);
    if (inline_common < 0) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(steps); i++) {
        PyObject *step = Py_NewRef(PyList_GET_ITEM(steps, i));
        int rc = forward_step(step, tan, left, inline_common, args[4], args[5], args[6],
                              args[7]);
        Py_DECREF(step);
        if (rc < 0) {
            return NULL;
        }
    }
    Py_RETURN_NONE;
}

/* ------------------------------------------------------------------------------------------ */
/* conj: the rules' ``x*``, called by most of them on every node                              */

static PyObject *NpConjugate;     /* np.conjugate (owned) */
static PyObject *NpIsComplexObj;  /* np.iscomplexobj (owned) */
static PyObject *NpNdim;          /* np.ndim (owned) */

PyDoc_STRVAR(conj_doc,
"conj(x)\n"
"--\n\n"
"``x*`` for complex ``x``; ``x`` itself for real ``x`` (no copy). ``x`` is an array (a\n"
"GradArray under create_graph: np.conjugate records it), a NumPy or Python scalar, or a list.");

static PyObject *
conj_of(PyObject *module, PyObject *x)
{
    int is_complex;
    if (PyArray_Check(x)) {
        is_complex = PyArray_DESCR((PyArrayObject *)x)->kind == 'c';
    }
    else if (PyFloat_CheckExact(x) || PyLong_CheckExact(x) || PyBool_Check(x)) {
        is_complex = 0;
    }
    else if (PyComplex_CheckExact(x)) {
        is_complex = 1;
    }
    else if (PyArray_IsScalar(x, Generic)) {
        PyArray_Descr *descr = PyArray_DescrFromScalar(x);  /* new */
        if (descr == NULL) {
            return NULL;
        }
        is_complex = descr->kind == 'c';
        Py_DECREF(descr);
    }
    else {  /* a list, a tuple, an object with a dtype: as NumPy reads them */
        PyObject *found = PyObject_CallOneArg(NpIsComplexObj, x);
        is_complex = found == NULL ? -1 : PyObject_IsTrue(found);
        Py_XDECREF(found);
        if (is_complex < 0) {
            return NULL;
        }
    }
    return is_complex ? PyObject_CallOneArg(NpConjugate, x) : Py_NewRef(x);
}

PyDoc_STRVAR(ndim_doc,
"ndim(x)\n"
"--\n\n"
"``np.ndim(x)``: read from the array itself for an ndarray or a GradArray (whose ``np.ndim``\n"
"is its plain array's), without NumPy's two Python calls; anything else (a list, a scalar, an\n"
"``ArrayMeta``) as np.ndim reads it. The reads-derivation takes a call of it, like np.ndim's, to\n"
"read the shape only.");

static PyObject *
ndim_of(PyObject *module, PyObject *x)
{
    if (PyArray_CheckExact(x) || (GradArrayType != NULL && Py_TYPE(x) == GradArrayType)) {
        return PyLong_FromLong(PyArray_NDIM((PyArrayObject *)x));
    }
    return PyObject_CallOneArg(NpNdim, x);
}

/* ``axis`` (an int or a tuple of ints, already validated by the forward call) made the axes of a
 * ``kept`` shape 1, as _rules.reductions._kept does; 0, or 1 for another kind of axis (the
 * Python path reads it). */
static int
keep_axis(npy_intp *kept, int ndim, PyObject *axis)
{
    Py_ssize_t n = PyTuple_Check(axis) ? PyTuple_GET_SIZE(axis) : 1;
    for (Py_ssize_t i = 0; i < n && ndim > 0; i++) {
        PyObject *a = PyTuple_Check(axis) ? PyTuple_GET_ITEM(axis, i) : axis;
        if (!PyLong_CheckExact(a)) {
            return 1;
        }
        long k = PyLong_AsLong(a);
        if (k == -1 && PyErr_Occurred()) {
            PyErr_Clear();
            return 1;
        }
        kept[((k % ndim) + ndim) % ndim] = 1;  /* Python's modulo: -1 is the last axis */
    }
    return 0;
}

PyDoc_STRVAR(spread_small_doc,
"spread_small(g, shape, axis, keepdims, divisor, limit)\n"
"--\n\n"
"_rules.reductions._spread for a plain cotangent ``g`` (an ndarray or a NumPy scalar) of a\n"
"reduction over ``axis`` (None, an int or a tuple of ints) of an input of ``shape`` with at\n"
"most ``limit`` elements: ``g`` copied into a new array of ``shape`` (broadcast along the\n"
"reduced axes) and divided in place by ``divisor`` unless it is 1, as that function computes\n"
"it. None for any other case, which that function takes.");

static PyObject *
spread_small(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 6) {
        PyErr_SetString(PyExc_TypeError, "spread_small(g, shape, axis, keepdims, divisor, limit)");
        return NULL;
    }
    PyObject *g = args[0], *shape = args[1], *axis = args[2], *divisor = args[4];
    int keepdims = PyObject_IsTrue(args[3]);
    npy_intp limit = PyLong_AsSsize_t(args[5]);
    if (keepdims < 0 || (limit == -1 && PyErr_Occurred())) {
        return NULL;
    }
    if (!PyTuple_Check(shape) || PyTuple_GET_SIZE(shape) > NPY_MAXDIMS
        || !(PyArray_CheckExact(g) || PyArray_IsScalar(g, Generic))) {
        Py_RETURN_NONE;  /* a GradArray (recorded calls), or a shape given otherwise */
    }
    Py_ssize_t ndim = PyTuple_GET_SIZE(shape);
    npy_intp dims[NPY_MAXDIMS], kept[NPY_MAXDIMS];
    npy_intp size = 1;
    for (Py_ssize_t i = 0; i < ndim; i++) {
        dims[i] = PyLong_AsSsize_t(PyTuple_GET_ITEM(shape, i));
        if (dims[i] < 0) {  /* not an int (the Python path says why), or not a length */
            PyErr_Clear();
            Py_RETURN_NONE;
        }
        /* capped above the limit: no overflow however many axes */
        size = dims[i] > limit || size * dims[i] > limit ? limit + 1 : size * dims[i];
        kept[i] = dims[i];
    }
    if (size > limit) {
        Py_RETURN_NONE;
    }
    PyArrayObject *src = (PyArrayObject *)PyArray_FromAny(g, NULL, 0, 0, 0, NULL);  /* new */
    if (src == NULL) {
        return NULL;
    }
    if (!keepdims && axis != Py_None && PyArray_NDIM(src) != ndim) {
        if (keep_axis(kept, (int)ndim, axis)) {
            Py_DECREF(src);
            Py_RETURN_NONE;
        }
        PyArray_Dims newshape = {kept, (int)ndim};
        Py_SETREF(src, (PyArrayObject *)PyArray_Newshape(src, &newshape, NPY_CORDER));
        if (src == NULL) {
            return NULL;
        }
    }
    PyArray_Descr *descr = PyArray_DESCR(src);
    Py_INCREF(descr);  /* stolen */
    PyObject *out = PyArray_Empty((int)ndim, dims, descr, 0);
    if (out == NULL || PyArray_CopyInto((PyArrayObject *)out, src) < 0) {
        Py_DECREF(src);
        Py_XDECREF(out);
        return NULL;
    }
    Py_DECREF(src);
    int scale = PyObject_RichCompareBool(divisor, int_one, Py_NE);
    if (scale < 0) {
        Py_DECREF(out);
        return NULL;
    }
    if (!scale) {
        return out;
    }
    PyObject *divided = PyNumber_InPlaceTrueDivide(out, divisor);  /* ``out /= divisor`` */
    Py_DECREF(out);
    return divided;
}

static PyMethodDef core_methods[] = {
    {"conj", (PyCFunction)conj_of, METH_O, conj_doc},
    {"ndim", (PyCFunction)ndim_of, METH_O, ndim_doc},
    {"spread_small", (PyCFunction)(void (*)(void))spread_small, METH_FASTCALL, spread_small_doc},
    {"collect_nodes", (PyCFunction)(void (*)(void))collect_nodes, METH_FASTCALL,
     collect_nodes_doc},
    {"node_serial", node_serial, METH_NOARGS, node_serial_doc},
    {"recorded_since", (PyCFunction)(void (*)(void))recorded_since, METH_FASTCALL,
     recorded_since_doc},
    {"backward_pass", (PyCFunction)(void (*)(void))backward_pass, METH_FASTCALL,
     backward_pass_doc},
    {"forward_order", (PyCFunction)(void (*)(void))forward_order, METH_FASTCALL,
     forward_order_doc},
    {"forward_plan_steps", (PyCFunction)(void (*)(void))forward_plan_steps, METH_FASTCALL,
     forward_plan_steps_doc},
    {"configure", (PyCFunction)(void (*)(void))configure, METH_FASTCALL, configure_doc},
    {"configure_scope", (PyCFunction)(void (*)(void))configure_scope, METH_FASTCALL,
     configure_scope_doc},
    {"scope_plan", (PyCFunction)(void (*)(void))scope_plan, METH_FASTCALL, scope_plan_doc},
    {"forget_scope_plan", forget_scope_plan, METH_NOARGS, forget_scope_plan_doc},
    {"open_scopes", open_scopes, METH_NOARGS, open_scopes_doc},
    {"writeable", writeable, METH_O, writeable_doc},
    {"memory_owner", memory_owner, METH_O, memory_owner_doc},
    {"guard_saved", (PyCFunction)(void (*)(void))guard_saved, METH_FASTCALL, guard_saved_doc},
    {"guard_plain", guard_plain, METH_O, guard_plain_doc},
    {"restore_guard", (PyCFunction)(void (*)(void))restore_guard, METH_FASTCALL,
     restore_guard_doc},
    {"configure_guards", (PyCFunction)(void (*)(void))configure_guards, METH_FASTCALL,
     configure_guards_doc},
    {"zero_filled", zero_filled, METH_O, zero_filled_doc},
    {"alias_entry", (PyCFunction)(void (*)(void))alias_entry, METH_FASTCALL, alias_entry_doc},
    {"register_alias", (PyCFunction)register_alias, METH_O, register_alias_doc},
    {"arrays_over", (PyCFunction)arrays_over, METH_O, arrays_over_doc},
    {"alias_table_size", alias_table_size, METH_NOARGS, alias_table_size_doc},
    {"fingerprint", fingerprint, METH_O, fingerprint_doc},
    {"fingerprint_bytes", (PyCFunction)(void (*)(void))fingerprint_bytes, METH_FASTCALL,
     fingerprint_bytes_doc},
    {"function_fast", (PyCFunction)(void (*)(void))function_fast, METH_FASTCALL,
     function_fast_doc},
    {"array_meta", (PyCFunction)array_meta, METH_O, array_meta_doc},
    {"configure_array", (PyCFunction)(void (*)(void))configure_array, METH_FASTCALL,
     configure_array_doc},

    {"forward_steps", (PyCFunction)(void (*)(void))forward_steps, METH_FASTCALL,
     forward_steps_doc},
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
    Py_VISIT(GradEnabledVarForPass);
    Py_VISIT(ScopeDepthVar);
    Py_VISIT(InertTypes);
    Py_VISIT(PermanentPrims);
    Py_VISIT(PrimitiveType);
    Py_VISIT(GradArrayType);
    Py_VISIT(VjpRules);
    Py_VISIT(GradEnabledVar);
    Py_VISIT(ConstantState);
    Py_VISIT(ScalarLike);
    Py_VISIT(Locks);
    Py_VISIT(Guarded);
    Py_VISIT(Stuck);
    Py_VISIT(LockAcquire);
    Py_VISIT(LockRelease);
    Py_VISIT(ReleasedMark);
    Py_VISIT(GraphGlobals);
    Py_VISIT(SealedMark);
    Py_VISIT(SetFlags);
    Py_VISIT(RefuseAliases);
    Py_VISIT(Meta);
    Py_VISIT(FinishCall);
    Py_VISIT(TrackViews);
    Py_VISIT(UfuncGeneral);
    Py_VISIT(FunctionGeneral);
    Py_VISIT(CallPrimitive);
    Py_VISIT(ErrstateVar);
    Py_VISIT(UserErrstate);
    Py_VISIT(LastErrstate);
    Py_VISIT(LastOurs);
    Py_VISIT(GetitemKey);
    Py_VISIT(GetitemImpl);
    Py_VISIT(ObjectCast);
    Py_VISIT(BufferExport);
    Py_VISIT(DropEntry);
    Py_VISIT(EdgeType);
    Py_VISIT(UfuncAdd);
    Py_VISIT(UfuncSubtract);
    Py_VISIT(UfuncMultiply);
    Py_VISIT(UfuncTrueDivide);
    Py_VISIT(UfuncMatmul);
    Py_VISIT(UfuncNegative);
    Py_VISIT(UfuncPower);
    Py_VISIT(PowerShortcuts);
    Py_VISIT(NpConjugate);
    Py_VISIT(NpNdim);
    Py_VISIT(NpIsComplexObj);
    Py_VISIT(LastShape);
    Py_VISIT(ScopeNumpy);
    Py_VISIT(ScopePlain);
    Py_VISIT(ScopeSwapped);
    Py_VISIT(RaisedVar);
    Py_VISIT(PrepareScope);
    Py_VISIT(ReraiseHidden);
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
    for (int k = 0; k <= N_NONE_TUPLES; k++) {
        if ((NoneTuples[k] = none_tuple(k)) == NULL) {
            return NULL;
        }
    }
    EmptyFrozenSet = PyFrozenSet_New(NULL);
    str_rules = PyUnicode_InternFromString("rules");
    str_argnum_rule = PyUnicode_InternFromString("argnum_rule");
    str_inplace_rules = PyUnicode_InternFromString("inplace_rules");
    str_unit_rules = PyUnicode_InternFromString("unit_rules");
    str_array_method = PyUnicode_InternFromString("array_method");
    str_edges = PyUnicode_InternFromString("edges");
    str_fp = PyUnicode_InternFromString("fp");
    str_plain = PyUnicode_InternFromString("plain");
    str_array = PyUnicode_InternFromString("array");
    str_saved = PyUnicode_InternFromString("saved");
    str_fingerprint = PyUnicode_InternFromString("fingerprint");
    str_verified = PyUnicode_InternFromString("_VERIFIED");
    str_sealed = PyUnicode_InternFromString("sealed");
    str_by_operands = PyUnicode_InternFromString("by_operands");
    str_unbroadcast = PyUnicode_InternFromString("unbroadcast");
    str_call = PyUnicode_InternFromString("__call__");
    str_implementation = PyUnicode_InternFromString("_implementation");
    str_positional = PyUnicode_InternFromString("positional");
    str_forward_common = PyUnicode_InternFromString("forward_common");
    str_jvp_kind = PyUnicode_InternFromString("jvp_kind");
    int_zero = PyLong_FromLong(0);
    int_one = PyLong_FromLong(1);
    int_output = PyLong_FromLong(-1);  /* _graph.OUTPUT: a versions entry for the result */
    if (EmptyTuple == NULL || EmptyFrozenSet == NULL || str_fp == NULL || str_rules == NULL
        || str_plain == NULL || str_array == NULL || str_saved == NULL
        || str_fingerprint == NULL || str_sealed == NULL || str_verified == NULL
        || str_argnum_rule == NULL || str_edges == NULL || str_inplace_rules == NULL
        || str_unit_rules == NULL || str_array_method == NULL
        || str_by_operands == NULL || str_call == NULL || str_implementation == NULL || str_positional == NULL
        || str_forward_common == NULL || str_jvp_kind == NULL || int_zero == NULL || int_one == NULL || int_output == NULL) {
        return NULL;
    }
    PyObject *m = PyModule_Create(&core_module);
    if (m == NULL) {
        return NULL;
    }
    AliasEntryType.tp_base = &_PyWeakref_RefType;
    if (PyType_Ready(&AliasEntryType) < 0
        || PyModule_AddObjectRef(m, "AliasEntry", (PyObject *)&AliasEntryType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    DropEntry = PyCFunction_New(&drop_entry_def, NULL);
    if (DropEntry == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    GetitemKey = PyObject_GetAttrString((PyObject *)&PyArray_Type, "__getitem__");
    PyObject *numpy = PyImport_ImportModule("numpy");
    if (numpy != NULL) {
        NpConjugate = PyObject_GetAttrString(numpy, "conjugate");
        NpIsComplexObj = PyObject_GetAttrString(numpy, "iscomplexobj");
        NpNdim = PyObject_GetAttrString(numpy, "ndim");
        Py_DECREF(numpy);
    }
    if (GetitemKey == NULL || NpConjugate == NULL || NpIsComplexObj == NULL || NpNdim == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    ArrayBaseType.tp_base = &PyArray_Type;
    ArrayBase_as_buffer = *PyArray_Type.tp_as_buffer;
    ArrayBase_as_buffer.bf_getbuffer = ArrayBase_getbuffer;
    off_link = PyArray_Type.tp_basicsize;  /* NumPy's struct as it is at run time */
    ArrayBaseType.tp_basicsize = off_link + (Py_ssize_t)sizeof(AliasLink);
    if (PyType_Ready(&ArrayBaseType) < 0
        || PyModule_AddObjectRef(m, "ArrayBase", (PyObject *)&ArrayBaseType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyType_Ready(&ArraysFirstType) < 0
        || PyModule_AddObjectRef(m, "ArraysFirst", (PyObject *)&ArraysFirstType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyType_Ready(&ScopeType) < 0
        || PyModule_AddObjectRef(m, "Scope", (PyObject *)&ScopeType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyType_Ready(&GuardType) < 0 || PyType_Ready(&HoldType) < 0
        || PyModule_AddObjectRef(m, "Guard", (PyObject *)&GuardType) < 0
        || PyModule_AddObjectRef(m, "Hold", (PyObject *)&HoldType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "FINGERPRINT_ROWS", FP_ROWS) < 0
        || PyModule_AddIntConstant(m, "FINGERPRINT_MAX_ROW", FP_MAX_ROW) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddObjectRef(m, "Node", (PyObject *)&NodeType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
