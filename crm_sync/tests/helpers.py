from __future__ import annotations

import os
from urllib.parse import quote


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a process (a command, a Celery worker) that must use the test database."""
    from django.db import connection

    db = connection.settings_dict
    auth = quote(db["USER"] or "", safe="") + (f":{quote(db['PASSWORD'], safe='')}" if db.get("PASSWORD") else "")
    url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "DJANGO_SETTINGS_MODULE": "cxmetrics.settings.test", "DATABASE_URL": url, **extra}
