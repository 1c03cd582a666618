"""Small helpers shared by every part: atomic files, hashing, seeding, provenance."""
