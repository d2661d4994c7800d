"""Build the compiled core, ``ndgrad._core`` (everything else is in pyproject.toml).

``NDGRAD_BUILD`` picks how it is compiled (docs/development.rst):

- unset or ``release``: optimised, assertions off;
- ``debug``: ``-O0 -g``, assertions on;
- ``asan``: ``debug`` plus AddressSanitizer and UndefinedBehaviorSanitizer.
"""

import os

import numpy as np
from setuptools import Extension, setup

FLAGS = {
    "release": ([], []),
    "debug": (["-O0", "-g", "-UNDEBUG"], []),
    "asan": (
        ["-O1", "-g", "-UNDEBUG", "-fsanitize=address,undefined", "-fno-omit-frame-pointer"],
        ["-fsanitize=address,undefined"],
    ),
}
build = os.environ.get("NDGRAD_BUILD", "release")
if build not in FLAGS:
    raise SystemExit(f"NDGRAD_BUILD={build!r}: expected one of {', '.join(FLAGS)}")
compile_args, link_args = FLAGS[build]

setup(
    ext_modules=[
        Extension(
            "ndgrad._core",
            ["ndgrad/_core.c"],
            include_dirs=[np.get_include()],
            extra_compile_args=[
                "-std=c11",
                "-Wall",
                "-Wextra",
                "-Wno-unused-parameter",
                "-Wno-missing-field-initializers",
                *compile_args,
            ],
            extra_link_args=link_args,
        )
    ]
)
