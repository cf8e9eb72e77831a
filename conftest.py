"""Test-wide fixtures: personas set up through the real services."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fangzhou.settings")

from hypothesis import settings as hypothesis_settings

# Property tests check rules, not speed: no per-example deadline. On a loaded 2-core machine one
# slow example (a first database query, a garbage collection) otherwise fails a correct test with
# DeadlineExceeded or Flaky. Speed is measured in bench/, as ratios.
hypothesis_settings.register_profile("fangzhou", deadline=None)
hypothesis_settings.load_profile("fangzhou")
