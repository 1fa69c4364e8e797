"""The repository contract suite (see conftest.py)."""
