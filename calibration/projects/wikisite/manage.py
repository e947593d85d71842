#!/usr/bin/env python
"""Django's own management entry point for this wiki (`django-admin startproject wikisite`)."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wikisite.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
