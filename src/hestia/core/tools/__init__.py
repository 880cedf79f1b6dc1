"""The agent's built-in tools: the schemas the model sees and the code that runs, jailed."""
