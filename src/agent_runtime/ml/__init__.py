"""ML domain: model registry, training files, LoRA fine-tuning jobs run by
mlx-lm in a worker process, and local streaming inference (`inference.py`)."""
