"""Signals the work-order app sends after commit (``order_status_changed``: ``order_id``, ``status``)."""

from __future__ import annotations

from django.dispatch import Signal

order_status_changed = Signal()
