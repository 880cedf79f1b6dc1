"""The rules: sessions, runs and their state machine, the event log, the agent loop."""
