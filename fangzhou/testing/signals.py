"""Signals the testing app sends after commit, for apps above it (the notices room) to act on.

``pooled_positive``: pooled tubes came back positive (``tube_ids``); their members are on the
re-test list. ``single_result``: a single tube's result is in (``tube_id``, ``result``).
Receivers take ids and must be safe to run twice.
"""

from __future__ import annotations

from django.dispatch import Signal

pooled_positive = Signal()
single_result = Signal()
