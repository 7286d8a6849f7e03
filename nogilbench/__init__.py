"""nogilbench: measure Python's concurrency models on real CPU-bound image work.

This package root stays stdlib-only: it is imported inside benchmark cells on every
interpreter (free-threaded builds included) and by the provisioning script before any
virtual environment exists.
"""

__version__ = "0.1.0"
