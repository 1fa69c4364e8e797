"""Builds a tiny llama-style MLX model directory on the fly: `config.json`,
random `model.safetensors` and a byte-level BPE tokenizer trained on the given
text with the `tokenizers` library. Nothing is downloaded.

Tests, benches and demos use it to exercise the real registry, fine-tuning
and inference paths in seconds on a couple of CPU cores. The model is random
(it knows nothing) until it is fine-tuned.
"""

from __future__ import annotations

import json
import pathlib
from typing import Iterable

CHAT_TEMPLATE = (
    "{% for message in messages %}<|{{ message['role'] }}|>{{ message['content'] }}<|end|>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|end|>", "<|user|>", "<|assistant|>", "<|system|>"]
# What `agent-runtime tiny-model` trains the tokenizer on without --corpus.
DEFAULT_CORPUS = (
    "Write a Python function that returns the n-th Fibonacci number.",
    "The tests pass: the fix updated the expected value in test_api.py.",
    "Read the failing test, find the cause, change the code, run the tests again.",
    "def add(a, b):\n    return a + b",
    "The color is red. The color is blue. The color is green.",
)


def build_tiny_llama(
    directory: pathlib.Path,
    corpus: Iterable[str],
    *,
    vocab_size: int = 320,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    intermediate_size: int = 128,
    seed: int = 0,
) -> pathlib.Path:
    """Writes a loadable mlx-lm llama model into `directory` and returns it."""
    import mlx.core as mx
    from mlx.utils import tree_flatten
    from mlx_lm.models import llama
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)

    tokenizer = Tokenizer(models.BPE(unk_token=None))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(list(corpus), trainer)
    tokenizer.save(str(directory / "tokenizer.json"))
    real_vocab = tokenizer.get_vocab_size()
    eos_id = tokenizer.token_to_id("<|end|>")
    (directory / "tokenizer_config.json").write_text(
        json.dumps(
            {
                "tokenizer_class": "PreTrainedTokenizerFast",
                "eos_token": "<|end|>",
                "bos_token": None,
                "unk_token": None,
                "pad_token": "<|endoftext|>",
                "model_max_length": 512,
                "chat_template": CHAT_TEMPLATE,
                "clean_up_tokenization_spaces": False,
            }
        )
    )
    config = {
        "model_type": "llama",
        "hidden_size": hidden_size,
        "num_hidden_layers": num_layers,
        "intermediate_size": intermediate_size,
        "num_attention_heads": num_heads,
        "num_key_value_heads": num_heads,
        "rms_norm_eps": 1e-5,
        "vocab_size": real_vocab,
        "max_position_embeddings": 512,
        "tie_word_embeddings": True,
        "eos_token_id": eos_id,
        "torch_dtype": "float32",
    }
    mx.random.seed(seed)
    model = llama.Model(llama.ModelArgs.from_dict(config))
    mx.eval(model.parameters())
    mx.save_safetensors(str(directory / "model.safetensors"), dict(tree_flatten(model.parameters())))
    (directory / "config.json").write_text(json.dumps(config, indent=2))
    return directory
