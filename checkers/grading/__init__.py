"""Grading student formulas against checked claims: parse safely, compare numerically, explain mistakes."""
