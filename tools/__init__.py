"""Developer tools for the response-geometry repository (not part of geomlib)."""
