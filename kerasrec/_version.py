"""kerasrec's version, in a module of its own so that every layer can read it without
importing the package facade (and setuptools reads it without importing anything)."""

__version__ = "0.2.0"
