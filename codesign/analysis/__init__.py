"""Pure analyses over cost tables (no FINN, no torch)."""
