"""The API's operations, each a function returning a ``Call`` (no I/O): the clients bind them, and
``Client.iterate`` takes the paged ones (``audit_log``, ``list_functions``, ``list_jobs``,
``list_requests``, ``list_subscriptions``, ``list_upkeeps``, ``recent_crosschain_messages``)."""

from nsl_client.ops.crosschain import recent_crosschain_messages
from nsl_client.ops.events import list_jobs, list_subscriptions, list_upkeeps
from nsl_client.ops.operators import audit_log, list_requests
from nsl_client.ops.services import list_functions

__all__ = [
    "audit_log",
    "list_functions",
    "list_jobs",
    "list_requests",
    "list_subscriptions",
    "list_upkeeps",
    "recent_crosschain_messages",
]
