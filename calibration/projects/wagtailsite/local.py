"""The deployment's own settings for a `wagtail start` project, copied to wagtailsite/settings/local.py.

The project template's settings/production.py ends with ``from .local import *``: that is where a deployment
puts its secret key and host names. Nothing else of the project is changed.
"""

SECRET_KEY = "calibration-only-not-secret"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
