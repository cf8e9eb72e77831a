"""Operating Fangzhou: health and readiness, the request log, backup and restore.

The top of the layering: it may import any app, and no app imports it.
"""
