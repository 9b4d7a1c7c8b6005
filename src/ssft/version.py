"""The package version, in a module of its own so any module can read it without importing ``ssft``.

Run directories and cache entries record it; ``ssft --version`` prints it.
"""

__version__ = "0.1.0"
