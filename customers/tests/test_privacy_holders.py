"""Every app that keeps a customer's personal data is reached by erasure and export."""

from importlib.util import find_spec

from django.apps import apps
from django.conf import settings

from customers.privacy import holders


def test_every_app_with_a_privacy_module_is_a_listed_holder():
    with_module = {
        f"{config.name}.privacy"
        for config in apps.get_app_configs()
        if config.name != "customers" and find_spec(f"{config.name}.privacy") is not None
    }
    assert with_module == set(settings.PERSONAL_DATA_HOLDERS)


def test_each_holder_erases_and_exports():
    for holder in holders():
        assert callable(holder.erase) and callable(holder.export)
