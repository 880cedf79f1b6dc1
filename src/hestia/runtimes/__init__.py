"""Agent runtimes that run outside the web process (each imports its own agent package)."""
