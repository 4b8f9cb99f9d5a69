"""The forum as NodeBB's read API shows it: plain functions over a session.

Each function is given the caller (``access.Viewer``) and the page size it needs as
values; none reads configuration or knows about HTTP. ``objects`` holds the object
shapes (user, category, topic, post) every answer is made of; the other modules each
serve one resource and keep the number of statements per answer fixed (no query per
row)."""
