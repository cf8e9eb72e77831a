"""Models of the supplies app."""
