import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "cxmetrics.settings.local")

app = Celery("cxmetrics")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
