#!/usr/bin/env python
"""Oscar's own management entry point for this shop (https://django-oscar.readthedocs.io, 'Building your own shop')."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "oscarshop.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
