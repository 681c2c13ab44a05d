"""Keep the Control Tower Region deny while allowing Bedrock cross-Region inference."""

from __future__ import annotations

__version__ = "0.3.6"
