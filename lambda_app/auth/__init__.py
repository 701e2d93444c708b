"""Who is calling, and how they prove it: password hashes, request principals."""
