"""Compute service: service info, health, devices and compute tasks."""
