"""The reliability suite: real processes, real PostgreSQL and Redis, faults injected."""
