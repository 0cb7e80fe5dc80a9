"""Question answering over news articles with verified, quoted citations."""

__version__ = "0.1.0"
