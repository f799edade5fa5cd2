"""The runnable examples in the structures' docstrings."""

import doctest
import importlib

import numpy as np
import pytest

MODULES = [
    "unstructured",
    "filter",
    "channel",
    "column",
    "block_punched",
    "nm",
    "kernel_pattern",
    "gather_scatter",
    "crossbar",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(f"tf_sparse.structures.{name}")
    globs = dict(vars(module), np=np)
    result = doctest.testmod(module, extraglobs=globs, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0 and result.failed == 0
