"""Installs the tf_sparse Python package (the delegate is built separately with Bazel)."""

from setuptools import find_packages, setup

setup(
    name="tf_sparse",
    version="0.1.0",
    description="Structured pruning for Keras 3 with a fast sparse TFLite delegate",
    packages=find_packages(include=["tf_sparse", "tf_sparse.*"]),
    python_requires=">=3.10",
    install_requires=["tensorflow>=2.21", "keras>=3.10", "ai-edge-litert>=2.3", "numpy"],
    entry_points={"console_scripts": ["tf-sparse=tf_sparse.__main__:main"]},
)
