"""The home page has no forms; the language switch lives in accounts.forms."""
