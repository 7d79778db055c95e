"""make bench's arithmetic (loadtests.bench): slices of one endpoint merged into one distribution."""

from __future__ import annotations

from loadtests.bench import Run, combined, merged_percentile

GRID = [tenth / 10 for tenth in range(5, 1000, 5)] + [99.6, 99.7, 99.8, 99.9, 99.95, 99.99, 100.0]


def run(requests: int, latency_at: dict[float, float], cpu: float = 1.0) -> Run:
    """A slice whose latency is latency_at[p] from percentile p on (the lowest p that applies)."""
    quantiles = tuple((pct, next(ms for p, ms in sorted(latency_at.items(), reverse=True) if pct >= p)) for pct in GRID)
    return Run(
        name="POST /x",
        requests=requests,
        seconds=1.0,
        ok=requests,
        other=0,
        socket_errors=0,
        p50_ms=latency_at[0],
        p90_ms=latency_at[0],
        p99_ms=dict(quantiles)[99.0],
        server_cpu=cpu,
        server_waited=0.0,
        quantiles=quantiles,
        worst_slice_p99_ms=dict(quantiles)[99.0],
    )


def test_one_slow_percent_in_one_slice_of_two_is_half_a_percent_overall() -> None:
    steady = run(1000, {0: 10.0})
    spiky = run(1000, {0: 10.0, 99.0: 200.0})  # its slowest 1 % took 200 ms
    assert spiky.p99_ms == 200.0
    assert merged_percentile([steady, spiky], 99) == 10.0  # 0.5 % of all requests were slow
    assert merged_percentile([steady, spiky], 99.9) == 200.0
    both = combined([steady, spiky])
    assert (both.requests, both.p99_ms, both.worst_slice_p99_ms) == (2000, 10.0, 200.0)


def test_a_slow_slice_shows_in_the_merged_percentiles() -> None:
    fast = run(1000, {0: 5.0})
    slow = run(1000, {0: 50.0})  # a whole slice in a slow phase of the machine
    assert merged_percentile([fast, slow], 50) == 5.0
    assert merged_percentile([fast, slow], 90) == 50.0
    assert combined([fast, slow]).p99_ms == 50.0
