"""Stock: each location's append-only ledger of movements and its balances (DESIGN.md, "Stock").

Serialized stock is kept in step with custody by listening to the trace events (see
``pharma.stock.serialized``); legacy products without serials are received and issued by quantity
(``pharma.stock.services``).
"""

from pharma.trace import events as _events


def _post_trace_event(*args, **kwargs) -> None:
    from pharma.stock.serialized import on_trace_event

    on_trace_event(*args, **kwargs)


_events.subscribe(_post_trace_event)
