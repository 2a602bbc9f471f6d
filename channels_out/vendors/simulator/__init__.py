"""The scriptable simulator: the default adapter in development and tests (CONVENTIONS R6)."""
