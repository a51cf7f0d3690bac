"""The sections service: the registry of the organisation's national sections."""
