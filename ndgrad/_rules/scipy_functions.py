"""Which of SciPy's Python-level callables differentiate, and which refuse (see ``_scipy``).

Each covered submodule lists the functions whose Python code only calls what ndgrad records
(``traced``: run inside the conversion scope) and those with no gradient; every other public
callable, classes included, raises ``NotDifferentiableError`` on an array that requires grad,
because SciPy computes it in compiled code that would silently drop the graph. Functions with
rules (``defvjp_scipy``) are registered by their own modules first and keep their rules.

``scipy.special``'s ufuncs have their rules in ``scipy_special``; its other functions are
Python around those ufuncs (``logsumexp``, ``softmax``), so they are traced by default. The
same holds for ``scipy.stats``' module-level functions; its distributions are objects whose
methods are Python around ``scipy.special``, and run as they are.
"""

from __future__ import annotations

from ndgrad._rules._scipy import cover

_COMPILED = "SciPy computes it in compiled code, which would silently drop the graph"

cover("scipy.special", default="traced", classes=False)
cover("scipy.stats", default="traced", classes=False)

cover(
    "scipy.linalg",
    traced=("block_diag",),
    why={"expm": "no rule yet; the Padé step writes into its buffer in Cython"},
)

cover(
    "scipy.spatial.distance",
    traced=(
        "braycurtis", "canberra", "chebyshev", "cityblock", "correlation", "cosine",
        "euclidean", "jensenshannon", "mahalanobis", "minkowski", "seuclidean", "sqeuclidean",
        "dice", "hamming", "jaccard", "kulczynski1", "rogerstanimoto", "russellrao",
        "sokalsneath", "yule", "directed_hausdorff",
    ),
    no_gradient=("is_valid_dm", "is_valid_y", "num_obs_dm", "num_obs_y"),
    why={name: _COMPILED for name in ("pdist", "cdist", "squareform")},
)  # fmt: skip

cover(
    "scipy.integrate",
    traced=(
        "trapezoid", "simpson", "romb", "cumulative_trapezoid", "cumulative_simpson",
        "fixed_quad", "newton_cotes",
    ),
    why={
        name: "a solver: no gradient flows through it yet"
        for name in ("dblquad", "tplquad", "nquad")
    },
)  # fmt: skip

cover(
    "scipy.optimize",
    traced=("rosen", "rosen_der", "rosen_hess", "rosen_hess_prod"),
)  # fmt: skip

for _module in ("scipy.signal", "scipy.ndimage", "scipy.interpolate", "scipy.fft"):
    cover(_module)
