"""Nautobot's own settings (nautobot.core.settings) as a small deployment runs them without Redis.

The database is PostgreSQL, named by Nautobot's NAUTOBOT_DB_* variables (calibration/nautobot_db.py sets them);
the cache lives in each process's memory (calibration_cache.py adds the two django-redis calls Nautobot makes,
and constance, which refuses such a cache, reads its values from the database);
Celery runs a task inside the request that queues it, so no broker is needed; pages are open to anonymous
visitors (Nautobot's documented LOGIN_REQUIRED / EXEMPT_VIEW_PERMISSIONS) so that the traffic reaches its views
instead of the login page.
"""

import os
import sys
from pathlib import Path

from nautobot.core.settings import *  # noqa: F403

HERE = Path(__file__).resolve().parent

SECRET_KEY = "calibration-only-0123456789abcdefghijklmnopqrstuvwxyz-0123456789"
ALLOWED_HOSTS = ["*"]
DEBUG = False

NAUTOBOT_ROOT = str(HERE)
MEDIA_ROOT = str(HERE / "media")
STATIC_ROOT = str(HERE / "static")
GIT_ROOT = str(HERE / "git")
JOBS_ROOT = str(HERE / "jobs")

CACHES = {"default": {"BACKEND": "calibration_cache.LocalMemoryCache", "LOCATION": "nautobot"}}
CONSTANCE_DATABASE_CACHE_BACKEND = (
    None  # constance refuses a per-process cache: it reads the database instead
)
CELERY_BROKER_URL = "memory://"
CELERY_TASK_ALWAYS_EAGER = True

LOGIN_REQUIRED = False
EXEMPT_VIEW_PERMISSIONS = ["*"]
INSTALLATION_METRICS_ENABLED = False

# nautobot.setup() loads this file and then completes it (the job-log database alias, storage directories);
# Django's own loader, which the lab's probes use through DJANGO_SETTINGS_MODULE, does not: complete it here
# too (doing it twice changes nothing with these settings).
from nautobot.core.cli import _preprocess_settings  # noqa: E402

_preprocess_settings(sys.modules[__name__], os.path.abspath(__file__))
