"""Hestia: a self-hosted web app for working with an AI agent."""

__version__ = "0.1.0"
