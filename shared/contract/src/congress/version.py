"""The platform's version: the `congress` namespace has no `__init__` (PEP 420), so it lives here."""

__version__ = "0.1.0"
