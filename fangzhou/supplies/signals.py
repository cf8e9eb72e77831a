"""Signals the supplies app sends after commit (``delivery_done``: ``delivery_id``, a door was served)."""

from __future__ import annotations

from django.dispatch import Signal

delivery_done = Signal()
