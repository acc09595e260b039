"""The page `proofcheck serve` answers with, its script and its style sheet (no code: package data)."""
