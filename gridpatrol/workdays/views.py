"""Routes: added with the pages."""
