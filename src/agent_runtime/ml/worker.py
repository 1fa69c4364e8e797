"""Fine-tuning worker: one process per job, started by the job runner as
`python -m agent_runtime.ml.worker SPEC.json`.

It runs mlx-lm's LoRA training loop (`mlx_lm.tuner.trainer.train`) on the
job's files and reports progress as one JSON object per line on its standard
output (library output goes to standard error, which the runner keeps in the
job's log file):

    {"type": "metrics", "step": 10, "loss": 2.1, "tokens_per_second": 3000, ...}
    {"type": "eval", "step": 10, "validation_loss": 2.0, "accuracy": 0.41}
    {"type": "checkpoint", "step": 10, "path": ".../checkpoints/0000010.safetensors"}
    {"type": "done", "step": 100, "adapter_path": ".../adapters"}
    {"type": "error", "message": "..."}

Checkpoints (the LoRA weights) are saved every `checkpoint_every` steps and
when SIGTERM asks the worker to stop (then it exits with STOPPED_EXIT_CODE
after the current step). Started with a `resume_step`, it loads that
checkpoint and trains only the remaining steps. The worker exits by itself
when the server process that started it dies.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import sys
import threading
import time
import types

STOPPED_EXIT_CODE = 3
LORA_SCALE = 20.0

_events = None
_stop_requested = threading.Event()


def emit(event: dict) -> None:
    _events.write(json.dumps(event) + "\n")
    _events.flush()


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:
            os._exit(70)
        time.sleep(0.5)


def checkpoint_path(output_dir: pathlib.Path, step: int) -> pathlib.Path:
    return output_dir / "checkpoints" / f"{step:07d}.safetensors"


def latest_checkpoint(output_dir: pathlib.Path) -> tuple[int, pathlib.Path] | None:
    """(step, path) of the newest complete checkpoint of a job, if any."""
    found = []
    for path in (output_dir / "checkpoints").glob("*.safetensors"):
        try:
            found.append((int(path.stem), path))
        except ValueError:
            continue
    return max(found) if found else None


def _token_accuracy(model, dataset, batch_size: int, max_seq_length: int) -> float:
    """Share of target tokens the model predicts exactly (argmax), over the
    whole validation set, with the mask mlx-lm's loss uses."""
    import mlx.core as mx
    from mlx_lm.tuner.trainer import iterate_batches

    correct = total = 0.0
    for batch, lengths in iterate_batches(dataset=dataset, batch_size=batch_size, max_seq_length=max_seq_length):
        inputs, targets = batch[:, :-1], batch[:, 1:]
        logits = model(inputs)
        steps = mx.arange(1, targets.shape[1] + 1)
        mask = mx.logical_and(steps >= lengths[:, 0:1], steps <= lengths[:, 1:])
        hits = (mx.argmax(logits, axis=-1) == targets) * mask
        correct += hits.sum().item()
        total += mask.sum().item()
    return correct / total if total else 0.0


def _read_jsonl(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def run(spec: dict) -> int:
    import mlx.core as mx
    import mlx.optimizers as optim
    from mlx.utils import tree_flatten
    from mlx_lm import load
    from mlx_lm.tuner import trainer
    from mlx_lm.tuner.callbacks import TrainingCallback
    from mlx_lm.tuner.datasets import CacheDataset, create_dataset
    from mlx_lm.tuner.utils import linear_to_lora_layers

    hp = spec["hyperparameters"]
    output_dir = pathlib.Path(spec["output_dir"])
    adapter_dir = output_dir / "adapters"
    adapter_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / "checkpoints").mkdir(parents=True, exist_ok=True)
    if spec.get("device") == "gpu":
        mx.set_default_device(mx.gpu)
    else:
        mx.set_default_device(mx.cpu)
    # Seeds the LoRA weights' initialisation; the batch order is seeded in
    # `batches` below. Training and its result are then the same every run.
    mx.random.seed(hp["seed"])

    model, tokenizer = load(spec["model_path"])
    dataset_config = types.SimpleNamespace(mask_prompt=False)
    train_set = CacheDataset(create_dataset(_read_jsonl(spec["train_path"]), tokenizer, dataset_config))
    valid_set = (
        CacheDataset(create_dataset(_read_jsonl(spec["valid_path"]), tokenizer, dataset_config))
        if spec.get("valid_path")
        else None
    )

    model.freeze()
    lora_layers = hp["lora_layers"] or len(model.layers)
    lora_parameters = {"rank": hp["lora_rank"], "dropout": 0.0, "scale": LORA_SCALE}
    linear_to_lora_layers(model, min(lora_layers, len(model.layers)), lora_parameters)
    (adapter_dir / "adapter_config.json").write_text(
        json.dumps(
            {
                "fine_tune_type": "lora",
                "num_layers": min(lora_layers, len(model.layers)),
                "lora_parameters": lora_parameters,
                "base_model": spec["model_path"],
                "job_id": spec["job_id"],
            },
            indent=2,
        )
    )

    start_step = int(spec.get("resume_step") or 0)
    if start_step:
        model.load_weights(spec["resume_adapter"], strict=False)
        emit({"type": "log", "step": start_step, "message": f"resumed from the checkpoint of step {start_step}"})
    total_steps = hp["n_steps"]
    remaining = total_steps - start_step

    def save(step: int) -> None:
        path = checkpoint_path(output_dir, step)
        partial = path.with_suffix(".partial.safetensors")
        mx.save_safetensors(str(partial), dict(tree_flatten(model.trainable_parameters())))
        os.replace(partial, path)
        emit({"type": "checkpoint", "step": step, "path": str(path)})

    state = {"done": start_step, "last_saved": start_step}

    def batches(*args, **kwargs):
        # mlx-lm asks for the next training batch only after the previous step
        # finished (weights evaluated): the place to checkpoint and to stop.
        if not kwargs.get("loop"):
            yield from trainer.iterate_batches(*args, **kwargs)  # evaluation
            return
        # The batch order comes from NumPy's global RNG, which nothing else
        # seeds: without this, every run trains on another order and the
        # same job gives a different model.
        source = trainer.iterate_batches(*args, **kwargs, seed=hp["seed"])
        for batch in source:
            done = state["done"]
            if done > start_step and done % hp["checkpoint_every"] == 0 and state["last_saved"] != done:
                save(done)
                state["last_saved"] = done
            if _stop_requested.is_set():
                # Always leave a checkpoint (step 0 included) so that the job
                # resumes after a graceful stop.
                if state["last_saved"] != done or not checkpoint_path(output_dir, done).exists():
                    save(done)
                emit({"type": "stopped", "step": done})
                sys.exit(STOPPED_EXIT_CODE)
            state["done"] = done + 1
            yield batch

    class Reporter(TrainingCallback):
        def on_train_loss_report(self, info: dict) -> None:
            emit(
                {
                    "type": "metrics",
                    "step": start_step + info["iteration"],
                    "total_steps": total_steps,
                    "loss": info["train_loss"],
                    "tokens_per_second": info["tokens_per_second"],
                    "trained_tokens": info["trained_tokens"],
                    "learning_rate": float(info["learning_rate"]),
                }
            )

        def on_val_loss_report(self, info: dict) -> None:
            accuracy = _token_accuracy(model, valid_set, hp["batch_size"], hp["max_seq_length"])
            model.train()
            emit(
                {
                    "type": "eval",
                    "step": start_step + info["iteration"],
                    "validation_loss": info["val_loss"],
                    "accuracy": accuracy,
                }
            )

    emit({"type": "started", "step": start_step, "total_steps": total_steps})
    if remaining > 0:
        trainer.train(
            model=model,
            optimizer=optim.Adam(learning_rate=hp["learning_rate"]),
            train_dataset=train_set,
            val_dataset=valid_set,
            args=trainer.TrainingArgs(
                batch_size=hp["batch_size"],
                iters=remaining,
                val_batches=-1,
                steps_per_report=hp["report_every"],
                steps_per_eval=hp["eval_every"],
                steps_per_save=remaining + 1,  # checkpoints are ours (above)
                adapter_file=str(adapter_dir / "adapters.safetensors"),
                max_seq_length=hp["max_seq_length"],
            ),
            iterate_batches=batches,
            training_callback=Reporter(),
        )
    else:
        mx.save_safetensors(str(adapter_dir / "adapters.safetensors"), dict(tree_flatten(model.trainable_parameters())))
    emit({"type": "done", "step": total_steps, "adapter_path": str(adapter_dir)})
    return 0


def main(argv: list[str]) -> int:
    global _events
    # Progress lines go to the original stdout; everything the libraries
    # print goes to stderr (the job's log file).
    _events = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    signal.signal(signal.SIGTERM, lambda *_: _stop_requested.set())
    spec = json.loads(pathlib.Path(argv[1]).read_text())
    try:
        return run(spec)
    except SystemExit:
        raise
    except BaseException as error:  # noqa: BLE001 - reported to the runner, then exit non-zero
        import traceback

        traceback.print_exc()
        emit({"type": "error", "message": f"{type(error).__name__}: {error}"})
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
