"""Models of the zones app."""
