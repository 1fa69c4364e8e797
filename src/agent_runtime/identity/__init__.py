"""Identity: users, passwords, JWT access tokens, issued API keys, the
credential checks behind the auth interceptor, rate limits and the ownership
helpers that every domain uses (see ownership.py)."""
