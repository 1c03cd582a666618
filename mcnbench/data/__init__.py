"""File formats, safe readers and validation, the synthetic world, and input preparation."""
from mcnbench.data.errors import DataError

__all__ = ["DataError"]
