from __future__ import annotations

from typing import TYPE_CHECKING

from crm_sync.connectors.base import Connector, ConnectorError

if TYPE_CHECKING:
    from crm_sync.models import Connection

__all__ = ["Connector", "ConnectorError", "connector_for"]


def connector_for(connection: Connection) -> Connector:
    from crm_sync.connectors.csv_files import CsvFilesConnector
    from crm_sync.connectors.hubspot import HubSpotConnector

    connectors = {"hubspot": HubSpotConnector, "csv": CsvFilesConnector}
    try:
        return connectors[connection.kind](connection)
    except KeyError:
        raise ConnectorError(f"Unknown connection kind {connection.kind!r}", retryable=False) from None
