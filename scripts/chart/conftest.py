"""Which values the chart suite checks: the chart's own files, or those given.

`pytest scripts/chart` checks the defaults, values-staging.yaml,
values-production.yaml and helm-chart/ci/*.yaml, plus the behaviour tests
(bad values, rollouts on config change, ...). With `--values-file FILE`
(repeatable) it checks only those files, each on top of the chart defaults,
and leaves the behaviour tests out: that is how the app stack checks the
values it generates.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import chartlib  # noqa: E402


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--values-file",
        action="append",
        default=[],
        type=Path,
        help="check the chart with this values file (repeatable); default: the chart's own",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "behaviour: tests of the chart's behaviour on its own values files"
    )


def values_cases(config: pytest.Config) -> list[chartlib.ValuesCase]:
    given: list[Path] = config.getoption("--values-file")
    if given:
        missing = [str(path) for path in given if not path.is_file()]
        if missing:
            raise pytest.UsageError(f"values file not found: {', '.join(missing)}")
        return [chartlib.ValuesCase(str(path), path.resolve()) for path in given]
    chart = chartlib.CHART_DIR
    own = [chart / "values-staging.yaml", chart / "values-production.yaml"]
    own += sorted((chart / "ci").glob("*.yaml"))
    return [
        chartlib.ValuesCase("default", None),
        *(chartlib.ValuesCase(str(path.relative_to(chart)), path) for path in own),
    ]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "case" in metafunc.fixturenames:
        cases = values_cases(metafunc.config)
        metafunc.parametrize("case", cases, ids=[case.label for case in cases], scope="session")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not config.getoption("--values-file"):
        return
    kept = [item for item in items if item.get_closest_marker("behaviour") is None]
    deselected = [item for item in items if item.get_closest_marker("behaviour") is not None]
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = kept


@pytest.fixture(scope="session")
def all_cases(request: pytest.FixtureRequest) -> list[chartlib.ValuesCase]:
    return values_cases(request.config)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item: pytest.Item):  # noqa: ANN201 - a hook wrapper generator
    """Show a refused values file as its message, not as a Python traceback."""
    outcome = yield
    error = outcome.excinfo[1] if outcome.excinfo else None
    if isinstance(error, chartlib.ChartCheckError):
        outcome.force_exception(pytest.fail.Exception(str(error), pytrace=False))
