"""Plugin tests: each runs Vigil in pytester against a real local HTTP server."""
