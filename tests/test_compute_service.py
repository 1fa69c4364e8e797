"""The compute domain classes on real SQLite and real backends: queue order,
limits, cancellation, timeouts, restart, probe-based selection and the
deterministic insights analyser."""

from __future__ import annotations

import asyncio
import datetime as dt
import math

import numpy as np
import pytest
import pytest_asyncio

from agent_runtime.clock import iso
from agent_runtime.compute.backends import DeviceInfo
from agent_runtime.compute.host import parse_nvidia_smi
from agent_runtime.compute.insights import DeterministicAnalyzer, InsightService
from agent_runtime.compute.operations import OPERATIONS
from agent_runtime.compute.records import MetricSample, TaskRecord
from agent_runtime.compute.registry import BackendRegistry
from agent_runtime.compute.series import MetricSeriesService
from agent_runtime.compute.service import ComputeLimits, ComputeService
from agent_runtime.config import Settings
from agent_runtime.errors import FailedPrecondition, PayloadTooLarge, RateLimited, ValidationFailed
from agent_runtime.storage.sqlite.compute import SqliteMetricSampleRepository, SqliteProbeRepository, SqliteTaskRepository
from agent_runtime.storage.sqlite.database import Database
from conftest import make_settings, running


@pytest.fixture(scope="module")
def registry() -> BackendRegistry:
    probed = BackendRegistry()
    probed.probe()
    return probed


@pytest_asyncio.fixture
async def database(tmp_path):
    db = await Database.open(tmp_path / "compute.sqlite3")
    yield db
    await db.close()


@pytest_asyncio.fixture
async def service(database, registry):
    compute = ComputeService(
        SqliteTaskRepository(database), SqliteProbeRepository(database), registry, limits=ComputeLimits(max_queued=4, probe_second_pass_delay_seconds=None)
    )
    await compute.start(probe=False)
    yield compute
    await compute.stop()


LONG_TASK = {"size": 512, "iterations": 1000}


async def test_priority_queue_runs_higher_priority_first_then_arrival_order(service, database):
    # A long task holds the only worker until everything is queued.
    blocker = await service.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0", wait=False)
    submitted = []
    for priority in (1, 5, 10, 5):
        record = await service.submit("vector_operations", {"size": 1000, "iterations": 1}, priority=priority, wait=False)
        submitted.append((priority, record.task_id))
    await service.cancel(blocker.task_id)
    finished = [await service.wait(task_id) for _, task_id in submitted]
    assert all(r.status == "completed" for r in finished)
    await service.wait(blocker.task_id)
    rows = await database.fetch_all(
        "SELECT task_id FROM compute_tasks WHERE task_id != ? ORDER BY started_at", (blocker.task_id,)
    )
    by_id = dict((task_id, priority) for priority, task_id in submitted)
    started = [row["task_id"] for row in rows]
    assert [by_id[t] for t in started] == [10, 5, 5, 1]
    # equal priorities keep arrival order
    assert started[1:3] == [submitted[1][1], submitted[3][1]]


async def test_full_queue_is_refused_clearly(service):
    blocker = await service.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0", wait=False)
    while (await service.get(blocker.task_id)).status == "queued":
        await asyncio.sleep(0.01)
    queued = [await service.submit("compute", {"size": 100}, wait=False) for _ in range(4)]
    with pytest.raises(RateLimited, match="queue is full"):
        await service.submit("compute", {"size": 100}, wait=False)
    for record in (blocker, *queued):
        await service.cancel(record.task_id)
    assert [(await service.get(r.task_id)).status for r in queued] == ["cancelled"] * 4


async def test_cancel_running_task_stops_at_checkpoint(service):
    record = await service.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0", wait=False)
    while (await service.get(record.task_id)).status != "running":
        await asyncio.sleep(0.01)
    cancelled = await service.cancel(record.task_id)
    assert cancelled.status == "cancelled" and cancelled.error == "cancelled by request"
    with pytest.raises(FailedPrecondition, match="already finished"):
        await service.cancel(record.task_id)


async def test_timeout_stops_a_long_task(service):
    record = await service.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0", timeout=0.2)
    assert record.status == "timeout"
    assert "timeout of 0.2 s" in record.error
    assert record.execution_time < 5


async def test_caller_going_away_cancels_its_task(service):
    submit = asyncio.create_task(service.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0"))
    await asyncio.sleep(0.3)
    submit.cancel()
    with pytest.raises(asyncio.CancelledError):
        await submit
    listed, _ = await service.list_tasks(1, 0)
    final = await service.wait(listed[0].task_id)
    assert final.status == "cancelled"


async def test_a_finishing_task_is_never_read_back_unfinished(service, monkeypatch):
    """A task leaves the in-memory table only once its outcome is stored:
    a reader in between used to get the stored row, still `running`."""
    storing = asyncio.Event()
    update_task = service._repo.update_task

    async def slow_final_update(record):
        if record.status in ("completed", "failed", "cancelled"):
            storing.set()
            await asyncio.sleep(0.3)
        await update_task(record)

    monkeypatch.setattr(service._repo, "update_task", slow_final_update)
    task = await service.submit("vector_operations", {"size": 1000, "iterations": 1}, wait=False)
    await asyncio.wait_for(storing.wait(), 10)
    assert (await service.get(task.task_id)).status == "completed"
    assert (await service.wait(task.task_id)).status == "completed"


@pytest.mark.parametrize(
    "operation, parameters, error, text",
    [
        ("matrix_multiply", {"size": 10**7}, PayloadTooLarge, "limit per task"),
        ("vector_operations", {"size": 10**12}, PayloadTooLarge, "use a smaller size"),
        ("matrix_multiply", {"size": -3}, ValidationFailed, "at least 1"),
        ("matrix_multiply", {"size": 12.5}, ValidationFailed, "must be an integer"),
        ("matrix_multiply", {"size": True}, ValidationFailed, "must be an integer"),
        ("matrix_multiply", {"size": "100"}, ValidationFailed, "must be an integer"),
        ("matrix_multiply", {"size": 10, "iterations": 10**6}, ValidationFailed, "at most 1000"),
        ("matrix_multiply", {"dtype": "int8"}, ValidationFailed, "dtype must be one of"),
        ("matrix_multiply", {"sise": 10}, ValidationFailed, "unknown: sise"),
        ("vector_operations", {"operations": ["add", "xor"]}, ValidationFailed, "must be one of add"),
        ("memory_bandwidth", {"size_mb": 0}, ValidationFailed, "at least 1"),
        ("fold_proteins", {}, ValidationFailed, "operation must be one of"),
    ],
)
async def test_bad_parameters_are_refused_before_anything_runs(service, operation, parameters, error, text):
    with pytest.raises(error, match=text):
        await service.submit(operation, parameters)
    listed, total = await service.list_tasks(10, 0)
    assert total == 0


async def test_priority_timeout_and_device_are_checked(service):
    with pytest.raises(ValidationFailed, match="priority"):
        await service.submit("compute", {}, priority=11)
    with pytest.raises(ValidationFailed, match="timeout"):
        await service.submit("compute", {}, timeout=-1)
    with pytest.raises(ValidationFailed, match="device_preference"):
        await service.submit("compute", {}, device_preference="tpu_7")
    if service.registry.device("mlx_cpu_0"):
        with pytest.raises(ValidationFailed, match="cannot run mlx_operation"):
            await service.submit("mlx_operation", {}, device_preference="cpu_0")


async def test_auto_picks_the_device_the_probe_measured_fastest(service, registry):
    for operation, spec in OPERATIONS.items():
        for size_class, params in spec.probes.items():
            record = await service.submit(operation, params)
            assert record.status == "completed", record.error
            timings = registry._timings[(operation, size_class)]
            assert record.device_used == min(timings, key=timings.get)
            assert "fastest in the start-up probe" in record.output["selection"]


async def test_outputs_match_plain_numpy(service):
    record = await service.submit("matrix_multiply", {"size": 64, "iterations": 2}, device_preference="cpu_0")
    rng = np.random.default_rng(0)
    a, b = rng.random((64, 64), dtype=np.float32), rng.random((64, 64), dtype=np.float32)
    assert record.output["checksum"] == pytest.approx(float((a @ b).sum(dtype=np.float64)), rel=1e-6)
    assert record.output["gflops"] > 0 and record.output["shape"] == [64, 64]

    record = await service.submit("vector_operations", {"size": 5000, "operations": ["dot"]}, device_preference="cpu_0")
    rng = np.random.default_rng(0)
    x, y = rng.random(5000, dtype=np.float32), rng.random(5000, dtype=np.float32)
    assert record.output["checksums"]["dot"] == pytest.approx(float(np.dot(x, y)), rel=1e-5)


async def test_shutdown_stores_an_outcome_for_every_task(database, registry):
    first = ComputeService(SqliteTaskRepository(database), SqliteProbeRepository(database), registry, limits=ComputeLimits(probe_second_pass_delay_seconds=None))
    await first.start(probe=False)
    running = await first.submit("matrix_multiply", LONG_TASK, device_preference="cpu_0", wait=False)
    queued = await first.submit("compute", {"size": 10}, wait=False)
    while (await first.get(running.task_id)).status != "running":
        await asyncio.sleep(0.01)
    await first.stop()
    repository = SqliteTaskRepository(database)
    stopped, never_started = await repository.get_task(running.task_id), await repository.get_task(queued.task_id)
    assert stopped.status == "cancelled" and "shut down while the task ran" in stopped.error
    assert never_started.status == "failed" and "shut down before the task started" in never_started.error


async def test_restart_fails_tasks_a_crash_left_unfinished(database, registry):
    repository = SqliteTaskRepository(database)
    now = iso(dt.datetime.now(dt.timezone.utc))
    await repository.insert_task(
        TaskRecord(
            task_id="task_crashed",
            operation="compute",
            status="running",
            priority=5,
            device_preference="auto",
            parameters={"size": 10},
            created_at=now,
            updated_at=now,
        )
    )
    service = ComputeService(repository, SqliteProbeRepository(database), registry, limits=ComputeLimits(probe_second_pass_delay_seconds=None))
    await service.start(probe=False)
    try:
        stored = await service.get("task_crashed")
        assert stored.status == "failed" and "server stopped before the task finished" in stored.error
        assert stored.finished_at is not None
    finally:
        await service.stop()


def _sample(epoch: float, **values) -> MetricSample:
    base = dict(
        cpu_utilization=30.0,
        memory_usage=40.0,
        gpu_utilization=0.0,
        active_tasks=0,
        queued_tasks=0,
        tasks_completed=0,
        tasks_failed=0,
        tasks_per_minute=2.0,
        avg_execution_ms=10.0,
        avg_gflops=50.0,
        ai_tasks_processed=0,
    )
    base.update(values)
    return MetricSample(epoch=epoch, sampled_at=iso(dt.datetime.fromtimestamp(epoch, dt.timezone.utc)), **base)


async def test_deterministic_insights_find_average_peak_trend_and_anomaly(database):
    repository = SqliteMetricSampleRepository(database)
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    start = now.timestamp() - 3000
    for index in range(50):
        memory = 40.0 + index * 0.2 + (index % 3) * 0.1  # slow climb with jitter
        if index == 30:
            memory = 95.0  # one spike
        await repository.insert_sample(_sample(start + index * 60, memory_usage=memory))
    # a sample outside the window is not analysed
    await repository.insert_sample(_sample(now.timestamp() - 7200, memory_usage=99.0))
    insights = InsightService(repository, SqliteTaskRepository(database), DeterministicAnalyzer(), clock=lambda: now)
    report = await insights.generate("memory", "1h")
    assert report.sample_count == 50 and report.analyzer == "deterministic"
    series = report.analysis["series"]["memory_usage"]
    assert series["peak"] == 95.0
    assert series["peak_at"] == iso(dt.datetime.fromtimestamp(start + 30 * 60, dt.timezone.utc))
    assert series["slope_per_hour"] > 5  # +0.2 per minute ≈ +12 per hour
    assert [a["value"] for a in series["anomalies"]] == [95.0]
    values = [40.0 + i * 0.2 + (i % 3) * 0.1 for i in range(50)]
    values[30] = 95.0
    assert series["average"] == pytest.approx(sum(values) / 50, abs=1e-3)
    assert report.averages["memory_usage"] == pytest.approx(sum(values) / 50, abs=1e-3)
    assert report.text.startswith("Based on the last 1h of memory data (50 samples")
    assert "Anomaly: memory usage was 95%" in report.text
    assert "COMPUTE_MAX_TASK_MEMORY_MB" in report.text  # the 95% peak gets concrete advice


async def test_insights_reject_unknown_metric_type_and_timeframe(database):
    insights = InsightService(SqliteMetricSampleRepository(database), SqliteTaskRepository(database))
    with pytest.raises(ValidationFailed, match="metric_type must be one of"):
        await insights.generate("vibes", "1h")
    with pytest.raises(ValidationFailed, match="timeframe must be one of"):
        await insights.generate("memory", "2h")
    empty = await insights.generate("errors", "5m")
    assert empty.sample_count == 0 and "No metric samples" in empty.text
    assert not math.isnan(empty.averages["memory_usage"])


async def test_metric_series_averages_the_window_into_equal_buckets(database):
    repository = SqliteMetricSampleRepository(database)
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.timezone.utc)
    start = now.timestamp() - 300
    # Two samples in the first minute, one in the third, none in the others.
    for offset, cpu in ((10, 20.0), (50, 40.0), (130, 90.0)):
        await repository.insert_sample(_sample(start + offset, cpu_utilization=cpu, queued_tasks=2))
    await repository.insert_sample(_sample(start - 10, cpu_utilization=99.0))  # before the window
    series = await MetricSeriesService(repository, clock=lambda: now).series("5m", max_points=5)
    assert series.sample_count == 3 and series.bucket_seconds == 60
    assert [point.sample_count for point in series.points] == [2, 1]
    first, third = series.points
    assert first.values["cpu_utilization"] == pytest.approx(30.0) and first.values["queued_tasks"] == 2
    assert third.values["cpu_utilization"] == 90.0
    assert first.at == now - dt.timedelta(seconds=270) and third.at == now - dt.timedelta(seconds=150)
    # 0 asks for the default, 360 buckets: each of the three samples has its own.
    default = await MetricSeriesService(repository, clock=lambda: now).series("5m")
    assert [point.sample_count for point in default.points] == [1, 1, 1]


async def test_metric_series_refuses_unknown_timeframe_and_point_counts(database):
    series = MetricSeriesService(SqliteMetricSampleRepository(database))
    with pytest.raises(ValidationFailed, match="timeframe must be one of"):
        await series.series("2h")
    with pytest.raises(ValidationFailed, match="max_points must be between 1 and 2000"):
        await series.series("1h", max_points=2001)
    with pytest.raises(ValidationFailed, match="max_points"):
        await series.series("1h", max_points=-1)
    assert (await series.series("7d")).points == []


def test_nvidia_smi_rows_are_parsed_and_backendless_gpus_never_picked(registry):
    rows = parse_nvidia_smi("0, NVIDIA H100 80GB HBM3, 81559, 81000, 9.0\n1, NVIDIA H100 80GB HBM3, 81559, 40000, 9.0\n")
    assert [g["index"] for g in rows] == [0, 1]
    assert rows[0]["name"] == "NVIDIA H100 80GB HBM3" and rows[1]["memory_free"] == 40000 * 1024 * 1024
    assert parse_nvidia_smi("garbage\n") == []
    gpu = DeviceInfo(
        id="cuda_9", name="test GPU", type="gpu", backend="none", capabilities=["cuda"], compute_units=0,
        dtypes=(), memory=lambda: (1.0, 1.0),
    )
    registry.devices.append(gpu)
    try:
        spec = OPERATIONS["matrix_multiply"]
        params = {"size": 64, "iterations": 1, "dtype": "float32"}
        assert gpu not in registry.candidates(spec, "float32")
        with pytest.raises(ValidationFailed, match="no compute backend"):
            registry.check_preference(spec, params, "cuda_9")
        device, reason = registry.select(spec, params, "gpu")
        assert device.backend in registry.backends
        if not any(d.type == "gpu" for d in registry.candidates(spec, "float32")):
            assert "no gpu device" in reason
    finally:
        registry.devices.remove(gpu)


async def test_stop_abandons_the_probe_without_keeping_it(database):
    """The probe's thread cannot be cancelled: on stop it ends at its next
    workload, so nothing is measured, stored or logged after shutdown."""
    import threading

    abandon = threading.Event()
    abandon.set()
    fresh = BackendRegistry()
    assert fresh.probe(abandon) == [] and fresh.probe_results == []

    # Stopped while the very last workload is measured.
    last_operation = list(OPERATIONS)[-1]
    last_workload = list(OPERATIONS[last_operation].probes.values())[-1]
    measure = fresh.run

    def run(device, name, params, checkpoint):
        if (name, params) == (last_operation, last_workload):
            abandon.set()
        return measure(device, name, params, checkpoint)

    abandon.clear()
    fresh.run = run
    assert fresh.probe(abandon) == [] and fresh.probe_results == []
    del fresh.run

    compute = ComputeService(SqliteTaskRepository(database), SqliteProbeRepository(database), fresh, limits=ComputeLimits(probe_second_pass_delay_seconds=None))
    await compute.start()
    await asyncio.sleep(0.05)  # the probe's thread is measuring
    await compute.stop()
    for thread in [t for t in threading.enumerate() if t.name.startswith("compute")]:
        thread.join(timeout=10)
        assert not thread.is_alive()
    assert fresh.probe_results == []
    assert await database.fetch_all("SELECT * FROM compute_probe_results") == []


async def test_a_server_without_the_probe_runs_tasks_on_the_first_capable_device(tmp_path, monkeypatch):
    monkeypatch.delenv("COMPUTE_PROBE")
    assert Settings.from_env().compute.probe is True
    monkeypatch.setenv("COMPUTE_PROBE", "false")
    assert Settings.from_env().compute.probe is False
    async with running(make_settings(tmp_path, server={"run_envoy": False}, compute={"probe": False})) as runtime:
        await runtime.compute.probe_finished()
        done = await runtime.compute.submit("vector_operations", {"size": 100})
        assert done.status == "completed" and "no probe measurement" in done.output["selection"]
        assert await runtime.database.fetch_all("SELECT * FROM compute_probe_results") == []
