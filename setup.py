"""The optional C accelerator of EVTX batches (src/triageparse/_evtxfast.c); all other metadata is in pyproject.toml.

``optional=True``: without a C compiler the install still succeeds and the EVTX reader uses its
DuckDB path, which gives the same tables, slower.
"""
from setuptools import Extension, setup

setup(ext_modules=[Extension("triageparse._evtxfast", ["src/triageparse/_evtxfast.c"], optional=True,
                             extra_compile_args=["-O2", "-fno-strict-aliasing"])])
