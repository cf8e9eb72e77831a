"""Signals the care app sends after commit: ``medicine_delivered`` (``request_id``) and
``escort_ordered`` (``order_id``, ``leave_at``: an aware datetime's ISO text)."""

from __future__ import annotations

from django.dispatch import Signal

medicine_delivered = Signal()
escort_ordered = Signal()
