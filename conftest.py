"""Test-wide fixtures: personas set up through the real services."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")
