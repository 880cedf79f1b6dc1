"""Hestia's benchmark harness: `python -m bench --quick|--full` (see bench/README.md)."""
