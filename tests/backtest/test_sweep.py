"""Sweeps: parameter parsing, grids, the frontier, and the same rows in-process, on local processes and on Dask."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from trimtab.adapters.bundled import bundled_daily
from trimtab.backtest.sweep import frontier, grid, grid_size, parse_param, run_sweep
from trimtab.config import load_strategy_spec
from trimtab.errors import ConfigError


def test_parse_range_and_list() -> None:
    path, values = parse_param("trigger.band=0.005:0.10:100")
    assert path == "trigger.band" and len(values) == 100
    assert values[0] == 0.005 and abs(values[-1] - 0.10) < 1e-15
    assert parse_param("trigger.every=7d,14d,30d") == ("trigger.every", ["7d", "14d", "30d"])
    with pytest.raises(ConfigError, match="--param trigger.band"):
        parse_param("trigger.band=0.1:x:3")
    with pytest.raises(ConfigError, match="expected PATH="):
        parse_param("trigger.band")


def test_grid_is_cartesian() -> None:
    g = grid([("a", [1, 2]), ("b", ["x", "y", "z"])])
    assert len(g) == 6 and {"a": 2, "b": "z"} in g


def test_frontier_keeps_only_undominated_rows() -> None:
    rows = [{"total_costs": c, "tracking_error": t} for c, t in [(1, 5), (2, 3), (3, 4), (4, 1), (2, 3.5)]]
    assert frontier(rows) == [0, 1, 3]


def test_identical_rows_appear_once_on_the_frontier() -> None:
    rows = [{"total_costs": c, "tracking_error": t} for c, t in [(2, 3), (1, 5), (2, 3), (1, 5), (4, 1)]]
    assert frontier(rows) == [1, 0, 4]


@given(st.lists(st.tuples(st.integers(0, 20), st.integers(0, 20)), max_size=60))
def test_frontier_matches_the_definition_of_non_dominated(points: list[tuple[int, int]]) -> None:
    rows = [{"total_costs": c, "tracking_error": t} for c, t in points]
    front = frontier(rows)
    undominated = {p for p in points if not any(q[0] <= p[0] and q[1] <= p[1] and q != p for q in points)}
    assert sorted(points[i] for i in front) == sorted(undominated)  # each undominated point once
    assert [points[i][0] for i in front] == sorted(points[i][0] for i in front)  # cheapest first


def test_grid_size_is_known_before_the_grid_is_built() -> None:
    assert grid_size([("a", list(range(1000))), ("b", list(range(1000)))]) == 1_000_000


@pytest.fixture(scope="module")
def setup():
    spec = load_strategy_spec("bitcoin")
    history = bundled_daily(["BTC"], start="2021-01-01", end="2022-12-31", quote="USDC")
    base = spec.model_dump(mode="json", exclude_none=True)
    points = grid([parse_param("trigger.band=0.02:0.2:4"), parse_param("trigger.every=1w,1M")])
    return base, points, history


def test_bad_parameter_value_fails_before_running(setup) -> None:
    base, _, history = setup
    with pytest.raises(ConfigError, match=r"trigger\.band"):
        run_sweep(base, [{"trigger.band": -1.0}], history, source="bitcoin", workers=1)


def test_local_processes_give_the_same_rows_as_in_process(setup) -> None:
    base, points, history = setup
    one = run_sweep(base, points, history, source="bitcoin", workers=1)
    two = run_sweep(base, points, history, source="bitcoin", workers=2)
    assert one == two and len(one) == 8
    seen: list[int] = []
    run_sweep(base, points, history, source="bitcoin", workers=2, progress=seen.append)
    assert seen == sorted(seen) and seen[-1] == 8 and len(seen) >= 4  # progress moves chunk by chunk
    assert len({r["total_costs"] for r in one}) > 1  # the parameters really change the result


@pytest.mark.slow
def test_dask_local_cluster_gives_the_same_rows(setup) -> None:
    from distributed import LocalCluster

    base, points, history = setup
    local = run_sweep(base, points, history, source="bitcoin", workers=1)
    with LocalCluster(n_workers=1, threads_per_worker=2, processes=True, dashboard_address=None) as cluster:
        remote = run_sweep(base, points, history, source="bitcoin", scheduler=cluster.scheduler_address)
    assert remote == local
