"""`make test` runs every app's tests: each app folder with tests is on pytest.ini's testpaths."""

import configparser
from pathlib import Path

from django.conf import settings


def test_every_app_with_tests_is_on_the_testpaths():
    base = Path(settings.BASE_DIR)
    config = configparser.ConfigParser()
    config.read(base / "pytest.ini")
    listed = set(config["pytest"]["testpaths"].split())
    with_tests = {p.parent.name for p in base.glob("*/tests") if (p / "__init__.py").exists()}
    assert with_tests - listed == set()
