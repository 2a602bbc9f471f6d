"""A mobile-push vendor in the shape of an in-app messaging SDK backend (guide §17)."""
