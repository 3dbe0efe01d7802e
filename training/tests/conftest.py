import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from training.tests import fakedata  # noqa: E402 -- after the sys.path entry for the repository root

SPIDER_REAL = os.environ.get("SPIDER_DIR", os.path.join(ROOT, "..", "shared", "data", "spider"))


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory):
    return fakedata.make_phantom(str(tmp_path_factory.mktemp("phantom")))


@pytest.fixture(scope="session")
def spider_dir(tmp_path_factory):
    return fakedata.make_spider(str(tmp_path_factory.mktemp("spider")))


@pytest.fixture(scope="session")
def mendeley_dir(tmp_path_factory):
    return fakedata.make_mendeley(str(tmp_path_factory.mktemp("mendeley")))
