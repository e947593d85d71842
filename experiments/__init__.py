"""Run generated or existing Django projects under real pre-fork servers and measure them (``run-experiments``)."""

__version__ = "0.2.0"
