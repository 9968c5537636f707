"""The simulated services of the seed systems, one module per system."""
