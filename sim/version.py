"""The installed package's version (recorded in every output)."""

import importlib.metadata

try:
    __version__ = importlib.metadata.version("fiscal-strain-sim")
except importlib.metadata.PackageNotFoundError:  # a source tree that was not installed
    __version__ = "0+unknown"
