"""Who is calling and what they may do."""

# Requests that change something: they carry the CSRF token (guard.py) and read their caller afresh (caller_cache.py).
UNSAFE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
