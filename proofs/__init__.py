"""The mathematics: one module per derivation of the course's problem sets, each exposing DERIVATIONS."""
