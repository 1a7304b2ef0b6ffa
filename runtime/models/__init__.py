"""sglike package."""
