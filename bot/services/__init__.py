"""Use cases: each runs in one unit of work and appends what it changed to the ledger."""
