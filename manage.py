#!/usr/bin/env python
"""Django's command runner; `dangjian` (src/dangjian/cli.py) is the friendlier front."""

import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dangjian.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
