"""Shared by the ML tests and bench: generated training data and a tiny model."""

from __future__ import annotations

import json
import pathlib
import random

from agent_runtime.ml.tinymodel import build_tiny_llama

COLORS = ("red", "blue", "green", "yellow")


def chat_examples(count: int, seed: int = 0) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        color = rng.choice(COLORS)
        rows.append(
            {
                "messages": [
                    {"role": "user", "content": f"color of {color}?"},
                    {"role": "assistant", "content": f"The color is {color}."},
                ]
            }
        )
    return rows


def to_jsonl(rows: list[dict]) -> bytes:
    return ("\n".join(json.dumps(r) for r in rows) + "\n").encode()


def build_model(directory: pathlib.Path, **sizes) -> pathlib.Path:
    corpus = [f"{m['messages'][0]['content']} {m['messages'][1]['content']}" for m in chat_examples(64)]
    return build_tiny_llama(directory, corpus, **sizes)
