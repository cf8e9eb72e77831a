"""Models of the testing app."""
