"""Synthetic Django projects of any size (``gen-project``)."""

__version__ = "0.5.0"
