#!/usr/bin/env python3
"""Fine-tuning throughput: a LoRA job through the service vs the same mlx-lm
LoRA loop run directly, in one run, as a ratio (target >= 0.95).

Both sides run in a fresh Python process on the same generated model and
data with the same settings (Adam, batch size, steps, LoRA rank and layers,
checkpoint interval), so both pay interpreter start, imports and model load:

- service: a real server (gRPC, SQLite, job runner) in this process; the job
  is created over gRPC, its worker process trains, progress events are
  stored and streamed; timed from CreateFineTuningJob to the `succeeded`
  event seen by a WatchFineTuningJob client.
- direct: `python bench/finetune.py --direct …` loads the model and runs
  `mlx_lm.tuner.trainer.train` with the same arguments; timed from spawn to
  exit.

tokens/s = trained tokens (as mlx-lm counts them) / wall seconds. Also shown:
the steady-state tokens/s that mlx-lm reports inside each loop. Runs are
alternated (direct, service, direct, service) after one warm-up of each that
fills MLX's compile cache; the best of each is compared.

    .venv/bin/python bench/finetune.py [--steps 300] [--rounds 2]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import pathlib
import random
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT / "gen")]

MODEL = dict(vocab_size=512, hidden_size=256, num_layers=4, num_heads=4, intermediate_size=512)
HP = dict(batch_size=8, learning_rate=1e-3, lora_rank=8, lora_layers=4, eval_every=1_000_000,
          checkpoint_every=100, max_seq_length=128, report_every=10, seed=0)
COLORS = ("red", "blue", "green", "yellow", "purple", "orange", "black", "white")


def examples(count: int) -> list[dict]:
    rng = random.Random(0)
    rows = []
    for _ in range(count):
        a, b = rng.choice(COLORS), rng.choice(COLORS)
        rows.append({"messages": [
            {"role": "user", "content": f"Mix {a} and {b}: what do you get, and why?"},
            {"role": "assistant", "content": f"Mixing {a} with {b} gives a {a}-{b} blend, because paint adds up."},
        ]})
    return rows


def direct(model_dir: str, train_path: str, steps: int, out_dir: str) -> None:
    """The plain mlx-lm LoRA loop with the worker's settings."""
    import types

    import mlx.core as mx
    import mlx.optimizers as optim
    from mlx_lm import load
    from mlx_lm.tuner import trainer
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm.tuner.datasets import CacheDataset, create_dataset
    from mlx_lm.tuner.utils import linear_to_lora_layers

    mx.set_default_device(mx.cpu)
    mx.random.seed(HP["seed"])
    model, tokenizer = load(model_dir)
    rows = [json.loads(line) for line in open(train_path) if line.strip()]
    train_set = CacheDataset(create_dataset(rows, tokenizer, types.SimpleNamespace(mask_prompt=False)))
    model.freeze()
    linear_to_lora_layers(model, HP["lora_layers"], {"rank": HP["lora_rank"], "dropout": 0.0, "scale": 20.0})
    reports = []

    class Reporter(TrainingCallback):
        def on_train_loss_report(self, info):
            reports.append(info)

    trainer.train(
        model=model, optimizer=optim.Adam(learning_rate=HP["learning_rate"]), train_dataset=train_set,
        val_dataset=None,
        args=trainer.TrainingArgs(batch_size=HP["batch_size"], iters=steps, val_batches=-1,
                                  steps_per_report=HP["report_every"], steps_per_eval=HP["eval_every"],
                                  steps_per_save=HP["checkpoint_every"],
                                  adapter_file=str(pathlib.Path(out_dir) / "adapters.safetensors"),
                                  max_seq_length=HP["max_seq_length"]),
        training_callback=Reporter(),
    )
    steady = [r["tokens_per_second"] for r in reports[1:]] or [reports[-1]["tokens_per_second"]]
    print(json.dumps({"trained_tokens": reports[-1]["trained_tokens"], "steady_tps": sum(steady) / len(steady)}))


@dataclasses.dataclass
class Result:
    trained_tokens: float
    wall: float
    steady_tps: float

    @property
    def tps(self) -> float:
        return self.trained_tokens / self.wall


def run_direct(model_dir: pathlib.Path, train_path: pathlib.Path, steps: int, work: pathlib.Path) -> Result:
    out = tempfile.mkdtemp(dir=work)
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, __file__, "--direct", str(model_dir), str(train_path), str(steps), out],
        capture_output=True, text=True, check=True,
    )
    wall = time.perf_counter() - started
    report = json.loads(done.stdout.strip().splitlines()[-1])
    return Result(report["trained_tokens"], wall, report["steady_tps"])


async def run_service(runtime, train_text: bytes, steps: int) -> Result:
    import grpc
    from google.api import httpbody_pb2

    from agentruntime.v1 import ml_pb2, ml_pb2_grpc

    metadata = (("x-api-key", runtime.settings.auth.api_key),)
    async with grpc.aio.insecure_channel(runtime.grpc_target) as channel:
        stub = ml_pb2_grpc.MLServiceStub(channel)
        uploaded = await stub.UploadFile(
            ml_pb2.UploadFileRequest(http_body=httpbody_pb2.HttpBody(content_type="application/jsonl", data=train_text)),
            metadata=metadata,
        )
        hp = {k: v for k, v in HP.items()}
        started = time.perf_counter()
        job = await stub.CreateFineTuningJob(
            ml_pb2.CreateFineTuningJobRequest(model_id="bench", training_file=uploaded.id, suffix="bench",
                                              hyperparameters=ml_pb2.Hyperparameters(n_steps=steps, **hp)),
            metadata=metadata,
        )
        steady = []
        async for event in stub.WatchFineTuningJob(ml_pb2.WatchFineTuningJobRequest(job_id=job.id), metadata=metadata):
            if event.type == "metrics" and event.step > HP["report_every"]:
                steady.append(event.metrics["tokens_per_second"])
            if event.type == "status" and event.status in ("succeeded", "failed", "cancelled"):
                break
        wall = time.perf_counter() - started
        final = await stub.GetFineTuningJob(ml_pb2.GetFineTuningJobRequest(job_id=job.id), metadata=metadata)
    if final.status != "succeeded":
        raise SystemExit(f"service job {final.status}: {final.error}")
    return Result(final.metrics["trained_tokens"], wall, sum(steady) / len(steady))


async def bench(steps: int, rounds: int) -> str:
    from agent_runtime.config import Settings
    from agent_runtime.ml.tinymodel import build_tiny_llama
    from agent_runtime.server import start_runtime

    work = pathlib.Path(tempfile.mkdtemp(prefix="bench-finetune-"))
    rows = examples(512)
    model_dir = build_tiny_llama(work / "data" / "models" / "bench",
                                 [m["messages"][0]["content"] + " " + m["messages"][1]["content"] for m in rows], **MODEL)
    train_text = ("\n".join(json.dumps(r) for r in rows) + "\n").encode()
    train_path = work / "train.jsonl"
    train_path.write_bytes(train_text)
    settings = Settings().replace(data_dir=work / "data", server={"grpc_port": 0, "run_envoy": False}, auth={"api_key": "bench-key"})
    runtime = await start_runtime(settings)
    try:
        # Warm-up (fills MLX's compile cache for both).
        await asyncio.to_thread(run_direct, model_dir, train_path, 20, work)
        await run_service(runtime, train_text, 20)
        direct_runs, service_runs = [], []
        for _ in range(rounds):
            direct_runs.append(await asyncio.to_thread(run_direct, model_dir, train_path, steps, work))
            service_runs.append(await run_service(runtime, train_text, steps))
    finally:
        await runtime.stop()
    best_direct = max(direct_runs, key=lambda r: r.tps)
    best_service = max(service_runs, key=lambda r: r.tps)
    lines = [
        f"model: llama {MODEL}, LoRA rank {HP['lora_rank']} on {HP['lora_layers']} layers, batch {HP['batch_size']},"
        f" {steps} steps, checkpoint every {HP['checkpoint_every']}",
        "| run | trained tokens | wall s | tokens/s (wall) | steady tokens/s (mlx-lm) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in (("direct", direct_runs), ("service", service_runs)):
        for index, r in enumerate(runs, 1):
            lines.append(f"| {name} #{index} | {r.trained_tokens:.0f} | {r.wall:.2f} | {r.tps:.0f} | {r.steady_tps:.0f} |")
    lines.append("")
    lines.append(f"ratio service/direct, tokens/s over wall time (best of each): {best_service.tps / best_direct.tps:.3f}")
    lines.append(
        f"ratio service/direct, steady-state tokens/s (best of each): {best_service.steady_tps / best_direct.steady_tps:.3f}"
    )
    return "\n".join(lines)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--direct":
        direct(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    import logging

    from agent_runtime.logs import configure_logging

    configure_logging()
    logging.getLogger().setLevel(logging.WARNING)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(asyncio.run(bench(args.steps, args.rounds)))


if __name__ == "__main__":
    main()
