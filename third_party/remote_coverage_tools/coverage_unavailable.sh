#!/bin/sh
# Offline stand-in for Bazel's remote coverage tools.
echo "coverage is not available in this offline build" >&2
exit 1
