"""Shared plumbing below every app: refusals, background jobs, rate limits, settings helpers,
the command-line primitives and the import pipeline. Nothing here imports an app."""
