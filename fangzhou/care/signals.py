"""Signals the care app sends after commit (``medicine_delivered``: ``request_id``)."""

from __future__ import annotations

from django.dispatch import Signal

medicine_delivered = Signal()
