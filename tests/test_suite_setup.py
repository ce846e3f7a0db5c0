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


# Modules whose module fixture costs less than a second, so that spreading their tests over both
# workers is worth building it twice.
CHEAP_MODULE_FIXTURES = {
    "tests/cli/test_bad_inputs.py": "saves one 16×16 ResNetE of two blocks",
    "tests/converters/test_verify.py": "builds one 16×16 ResNetE of two blocks",
    "tests/converters/openvino/test_int8_stem.py": "200 digit images and one 16×16 ResNetE",
    "tests/cli/test_bench_images.py": "saves one 16×16 ResNetE of one block and five small files",
    "tests/converters/lce/test_upstream_defects.py": "builds one 4×4 model of six small layers",
}


def test_module_fixtures_are_built_once():
    """A module fixture is built once per worker that runs a test needing it: without an
    `xdist_group`, `--dist loadgroup` spreads the module's tests over both workers and the
    fixture is built twice, at the same time (the multi-worker cluster run cost 226 s + 152 s
    that way instead of being made once)."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    ungrouped = []
    for path in sorted((root / "tests").rglob("test_*.py")):
        source = path.read_text()
        module_fixtures = [
            node.name
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.FunctionDef)
            for decorator in node.decorator_list
            if isinstance(decorator, ast.Call)
            and any(k.arg == "scope" and getattr(k.value, "value", None) == "module"
                    for k in decorator.keywords)
        ]  # fmt: skip
        name = path.relative_to(root).as_posix()
        if module_fixtures and "xdist_group" not in source and name not in CHEAP_MODULE_FIXTURES:
            ungrouped.append(f"{name} ({', '.join(module_fixtures)})")
    assert not ungrouped, (
        "module fixtures built once per worker: mark the module with "
        f"pytestmark = pytest.mark.xdist_group(...) or list it as cheap: {ungrouped}"
    )
    assert all((root / name).is_file() for name in CHEAP_MODULE_FIXTURES)
