"""Modules a generated project imports beyond Django: the `--imports N` weight knob takes the first N.

Real projects pull in a long tail of libraries at start-up; these stand in for them. Every entry is the standard
library or a package this tool itself installs, so a generated project runs in the tool's environment. Ordered
roughly by how often real Django projects import them; the heavy scientific stack comes last.
"""

IMPORT_CATALOGUE: tuple[str, ...] = (
    "json",
    "decimal",
    "uuid",
    "csv",
    "logging.handlers",
    "email.mime.multipart",
    "urllib.request",
    "http.client",
    "xml.etree.ElementTree",
    "statistics",
    "yaml",
    "jinja2",
    "markupsafe",
    "sqlparse",
    "dateutil.parser",
    "asyncio",
    "ssl",
    "smtplib",
    "concurrent.futures",
    "packaging.version",
    "zoneinfo",
    "django.contrib.humanize.templatetags.humanize",
    "django.contrib.sitemaps",
    "django.contrib.syndication.views",
    "django.utils.feedgenerator",
    "django.core.serializers.json",
    "PIL.Image",
    "faker",
    "numpy",
    "pandas",
)
