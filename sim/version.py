"""The installed package's version (recorded in every output)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("fiscal-strain-sim")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0+unknown"
