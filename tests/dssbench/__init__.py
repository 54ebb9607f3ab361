"""Test bench for node-ops: synthetic DSS data directories and test doubles."""
