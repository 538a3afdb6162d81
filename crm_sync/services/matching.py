"""How a connection matches customer ids it has not seen to customers another connection stored."""

from __future__ import annotations

from django.db import transaction

from crm_sync.models import Connection, MatchOn
from customers.services import MergeResult, connection_duplicates_merge, held_events_apply


def connection_matching_error(*, connection: Connection, match_on: str, match_connection: Connection | None) -> str:
    """Why this matching rule cannot be set on the connection, or ""."""
    if match_on not in MatchOn.values:
        return f"match_on must be one of {', '.join(repr(v) for v in MatchOn.values)}, not {match_on!r}."
    if match_on == MatchOn.CONNECTION:
        if match_connection is None:
            return "Choose the connection whose CRM ids this connection uses."
        if connection.pk is not None and match_connection.pk == connection.pk:
            return "A connection cannot match on its own ids: choose another connection."
    elif match_connection is not None:
        return "A connection to match on is only used when matching on the CRM id of another connection."
    return ""


def connection_matching_set(
    *, connection: Connection, match_on: str, match_connection: Connection | None = None
) -> MergeResult:
    """Match the customer ids this connection has not seen on ``match_connection``'s CRM ids
    (MatchOn.CONNECTION), on the email address (MatchOn.EMAIL) or not at all (MatchOn.OWN_ID). Applies to
    the records read from now on; ids matched before stay matched (customers.CustomerExternalId). The
    customers this connection created before that the rule matches are merged into the customers they
    match (customers.services.connection_duplicates_merge), and its held events whose customer the rule
    finds are applied. Raises ValueError for a rule that cannot be used."""
    error = connection_matching_error(connection=connection, match_on=match_on, match_connection=match_connection)
    if error:
        raise ValueError(error)
    with transaction.atomic():
        connection.match_on = match_on
        connection.match_connection = match_connection
        connection.save(update_fields=["match_on", "match_connection"])
    result = connection_duplicates_merge(connection=connection)
    result.held_applied = held_events_apply(connection=connection)
    return result
