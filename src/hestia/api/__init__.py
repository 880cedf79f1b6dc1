"""The HTTP layer: parse, validate, shape JSON. Rules live in `hestia.core`."""
