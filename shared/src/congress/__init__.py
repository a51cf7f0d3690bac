"""congress: the shared event contract and messaging kit of the congress platform."""

__version__ = "0.1.0"
