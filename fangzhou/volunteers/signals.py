"""Signals the volunteers app sends after commit (``shift_assigned``: ``assignment_id``)."""

from __future__ import annotations

from django.dispatch import Signal

shift_assigned = Signal()
