"""Builds mrczio's optional C kernel; everything else is in pyproject.toml.

The kernel (exact header statistics of integer frames) is optional: when no C compiler
is available the build goes on without it and mrczio.stats uses its pure-numpy path,
which gives identical results, only slower.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "mrczio._moments",
            sources=["mrczio/_moments.c"],
            extra_compile_args=["-O3", "-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
            optional=True,
        )
    ]
)
