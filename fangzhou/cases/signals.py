"""Signals the cases app sends after commit (``discharged``: ``case_id``; home monitoring follows)."""

from __future__ import annotations

from django.dispatch import Signal

discharged = Signal()
