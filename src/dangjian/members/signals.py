"""Signals of member records.

`timelines_changed(member_ids, since)` is sent after timeline events were written in bulk
(bulk_create sends no post_save): a new record, members moved by restructuring or by dissolving
their organisation. Receivers (the dues ledger) bring what they derive from timelines in step,
inside the same transaction. Bulk imports do not send it: regenerating (idempotent) catches up.
"""

from django.dispatch import Signal

timelines_changed = Signal()  # kwargs: member_ids (list[int]), since (datetime.date)
