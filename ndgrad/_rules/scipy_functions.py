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

cover(  # rules in scipy_linalg
    "scipy.linalg",
    traced=(
        "block_diag", "eigvalsh", "eigvals", "svdvals", "polar", "khatri_rao", "cosm", "sinm",
        "tanm", "coshm", "sinhm", "tanhm", "companion", "fiedler", "fiedler_companion", "leslie",
        "convolution_matrix", "diagsvd", "orthogonal_procrustes", "solve_circulant",
    ),
    no_gradient=("bandwidth", "issymmetric", "ishermitian"),
)  # fmt: skip

cover(
    "scipy.spatial.distance",
    traced=(
        "braycurtis", "canberra", "chebyshev", "cityblock", "cosine", "euclidean",
        "jensenshannon", "mahalanobis", "seuclidean", "sqeuclidean",
        "dice", "hamming", "jaccard", "kulczynski1", "rogerstanimoto", "russellrao",
        "sokalsneath", "yule",
    ),
    no_gradient=("is_valid_dm", "is_valid_y", "num_obs_dm", "num_obs_y"),
    why={"directed_hausdorff": "SciPy computes it in Cython and returns Python floats"},
)  # fmt: skip

cover(
    "scipy.integrate",
    traced=(
        "trapezoid", "simpson", "romb", "cumulative_trapezoid", "cumulative_simpson",
        "fixed_quad", "newton_cotes",
        # nested calls of quad (module-level, so ndgrad's quad rule): Leibniz per level
        "dblquad", "tplquad", "nquad",
    ),
)  # fmt: skip

cover(
    "scipy.optimize",
    traced=("rosen", "rosen_der", "rosen_hess", "rosen_hess_prod"),
)  # fmt: skip

cover(
    "scipy.signal",
    # stft, spectrogram, welch, csd and coherence are NumPy code around one segment FFT, which
    # has a rule in scipy_signal; istft is NumPy code around scipy.fft.
    traced=(
        "filtfilt", "stft", "istft", "spectrogram", "welch", "csd", "periodogram", "coherence",
    ),
    # iirfilter picks the analog prototype by ``typefunc == buttap``, comparing the functions
    # in its table with the module's names: a wrapper there breaks butter, cheby1, ... outright.
    no_gradient=("buttap", "besselap", "cheb1ap", "cheb2ap", "ellipap"),
)  # fmt: skip

# splder and splantider are NumPy code on (t, c, k); splev, splint and splrep have rules.
# barycentric_interpolate and krogh_interpolate build and call an interpolant that has rules.
cover(
    "scipy.interpolate",
    traced=("splder", "splantider", "barycentric_interpolate", "krogh_interpolate"),
)

for _module in ("scipy.ndimage", "scipy.fft"):
    cover(_module)
