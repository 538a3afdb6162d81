import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxmetrics.settings.production")

application = get_wsgi_application()

# Before the first request, not during it (and, with gunicorn --preload, once in the master).
from cxmetrics.warmup import warm_up  # noqa: E402 - needs the settings configured above

warm_up()
