"""gencore: domain, adapters and the Leonardo client shared by every function."""
