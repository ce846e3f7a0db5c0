"""The suite's own set-up: what `make test` relies on to stay fast."""

import pytest

pytestmark = pytest.mark.xdist_group("suite_setup")


def test_xdist_group_keeps_a_module_on_one_worker(request):
    """`make test` runs with `--dist loadgroup`: a module marked with `xdist_group` runs on one
    worker, so its module fixtures (trained teachers, reproduced tables, converted models) are
    built once. pytest-xdist 3.8 marks such a test by suffixing its id with the group; pytest 9.2
    drops that suffix and the grouping silently stops (pytest-xdist issue #1386)."""
    if not request.config.getoption("loadgroup", default=False):
        pytest.skip("not run by `make test` (no --dist loadgroup)")
    assert request.node.nodeid.endswith("@suite_setup"), request.node.nodeid
