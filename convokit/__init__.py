"""ConvoKit server SDK: send a user's message with your secret key, get the AI's reply."""

from ._version import __version__

__all__ = ["__version__"]
