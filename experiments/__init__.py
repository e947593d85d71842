"""Run generated or existing Django projects under real uWSGI and measure them (``run-experiments``)."""

__version__ = "0.1.0"
