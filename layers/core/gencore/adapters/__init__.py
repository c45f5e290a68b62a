"""The adapter ring: AWS services and Leonardo behind the domain's ports."""
