"""The agent's built-in tools: what the model sees (schemas) and what runs (jailed to a workspace)."""
